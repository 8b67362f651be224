// The labeling page (docs/labeling.md): the next task of the queue, its
// image with the model's boxes as a proposal, and everything a person needs
// to confirm or correct them with the keyboard alone, or the mouse. Boxes
// are kept in 0-1 coordinates of the image, as the server keeps them.
import { api, ApiError, currentSession, signIn, signOut } from "/assets/api.js";

const DEFAULT_CLASSES = ["healthy", "diseased", "water_stressed"];
const CLASS_COLOURS = ["#35c46a", "#ff5a4e", "#ffc83d", "#5ab0ff", "#e07bff", "#ffffff", "#ff9f1c", "#9bf6ff", "#c0c0c0"];
const NUDGE = 0.01;
const NUDGE_FAR = 0.05;
const MIN_SIZE = 0.01;

const $ = (id) => document.getElementById(id);

const state = {
  session: null,
  task: null,
  boxes: [], // {key, label, x1, y1, x2, y2, score (null: a person's), status: proposed|accepted|rejected}
  selected: null, // key of the selected box
  classes: [...DEFAULT_CLASSES],
  newClass: DEFAULT_CLASSES[0],
  threshold: 0.5,
  zoom: 1,
  undo: [],
  redo: [],
  startedFrom: "prelabels",
  shownAt: 0,
  history: [], // sample ids this person finished here, oldest first
  historyAt: -1, // index into history while going back; -1: at the queue
  nextKey: 1,
};

// ---- messages --------------------------------------------------------------

function announce(text) {
  $("status").textContent = text;
}

function showError(error) {
  $("error").textContent = error ? (error.message || String(error)) : "";
}

async function attempt(action) {
  try {
    showError(null);
    await action();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return showSignIn();
    showError(error);
  }
}

// ---- sign-in ---------------------------------------------------------------

function showSignIn() {
  state.session = null;
  $("workspace").hidden = true;
  $("not-a-labeler").hidden = true;
  $("sign-out").hidden = true;
  $("who").textContent = "";
  $("sign-in").hidden = false;
  $("user").focus();
}

async function startWork(session) {
  state.session = session;
  $("sign-in").hidden = true;
  $("sign-out").hidden = false;
  $("who").textContent = `${session.user} (${session.role})`;
  if (session.role === "reader") {
    $("not-a-labeler").hidden = false;
    $("sign-out").focus();
    return;
  }
  $("workspace").hidden = false;
  try {
    const stats = await api.get("/api/v1/labeling/stats");
    for (const label of Object.keys(stats.boxes_by_class || {}))
      if (!state.classes.includes(label)) state.classes.push(label);
  } catch (error) {
    showError(error);
  }
  await loadNext();
}

// ---- loading tasks ---------------------------------------------------------

function taskPath(sampleId, suffix = "") {
  return `/api/v1/labeling/tasks/${sampleId}${suffix}`;
}

async function loadNext() {
  const answer = await api.post("/api/v1/labeling/next", {});
  state.historyAt = -1;
  show(answer.task);
}

async function loadTask(sampleId) {
  show(await api.get(taskPath(sampleId)));
}

function show(task) {
  state.task = task;
  state.undo = [];
  state.redo = [];
  state.selected = null;
  $("empty").hidden = !!task;
  $("viewport").hidden = !task;
  if (!task) {
    state.boxes = [];
    render();
    announce("No task is waiting.");
    return;
  }
  const sample = task.sample;
  for (const box of [...sample.predictions, ...task.labels])
    if (!state.classes.includes(box.label)) state.classes.push(box.label);
  // A task labeled before shows its labels; a new one the model's proposal.
  if (task.labels.length > 0 || task.revision > 0) {
    state.boxes = task.labels.map((b) => makeBox(b, null, "accepted"));
    state.startedFrom = `revision:${task.revision}`;
  } else {
    state.boxes = sample.predictions.map((b) => makeBox(b, b.score, "proposed"));
    state.startedFrom = "prelabels";
  }
  state.shownAt = performance.now();
  const image = $("image");
  image.src = taskPath(task.sample_id, "/image");
  image.alt = `Camera ${sample.camera} of device ${sample.device_id}, ${sample.captured_at || ""}`;
  renderAbout();
  render();
  announce(`Sample ${task.sample_id}: ${visibleBoxes().length} boxes proposed.`);
  $("viewport").focus();
}

function makeBox(b, score, status) {
  return { key: state.nextKey++, label: b.label, x1: b.x1, y1: b.y1, x2: b.x2, y2: b.y2, score, status };
}

// ---- what is shown ---------------------------------------------------------

// Pre-labels below the threshold are not shown and not submitted; a
// person's boxes always are.
function visibleBoxes() {
  return state.boxes.filter((b) => b.status !== "rejected" && (b.score === null || b.status === "accepted" || b.score >= state.threshold));
}

function listedBoxes() {
  return state.boxes.filter((b) => b.score === null || b.status === "accepted" || b.score >= state.threshold);
}

function colourOf(label) {
  const index = state.classes.indexOf(label);
  return CLASS_COLOURS[(index < 0 ? 0 : index) % CLASS_COLOURS.length];
}

function describe(box) {
  const score = box.score === null ? "" : ` ${box.score.toFixed(2)}`;
  const status = box.score === null && box.status !== "rejected" ? "added" : box.status;
  return `${box.label}${score}, ${status}`;
}

function renderAbout() {
  const sample = state.task.sample;
  const rows = [
    ["Sample", state.task.sample_id],
    ["Device", sample.device_id],
    ["Camera", sample.camera],
    ["Field", sample.field + (sample.zone ? ` / ${sample.zone}` : "")],
    ["Captured", new Date(sample.captured_ms).toISOString().replace(".000Z", "Z")],
    ["Model", sample.model || "none"],
    ["State", `${state.task.state}${state.task.revision ? `, revision ${state.task.revision}` : ""}`],
  ];
  for (const reason of sample.reasons)
    rows.push([`Chosen: ${reason.strategy}`, `${reason.score.toFixed(2)}${reason.detail ? ` (${reason.detail})` : ""}`]);
  for (const [name, value] of Object.entries(sample.sensors || {})) rows.push([name, String(value)]);
  const about = $("about");
  about.replaceChildren();
  for (const [term, detail] of rows) {
    const dt = document.createElement("dt");
    dt.textContent = term;
    const dd = document.createElement("dd");
    dd.textContent = detail;
    about.append(dt, dd);
  }
}

function render() {
  renderClasses();
  renderList();
  renderOverlay();
  $("threshold-value").textContent = state.threshold.toFixed(2);
  $("threshold").value = String(state.threshold);
  $("zoom-value").textContent = `${Math.round(state.zoom * 100)}%`;
  $("canvas").style.width = `${state.zoom * 100}%`;
  $("copy-previous").disabled = !state.task || state.task.previous_labels.length === 0;
  $("undo").disabled = state.undo.length === 0;
  $("redo").disabled = state.redo.length === 0;
  for (const id of ["submit", "skip", "reject", "accept-all", "add-box", "ask-production"]) $(id).disabled = !state.task;
  $("previous").disabled = state.history.length === 0 || state.historyAt === 0;
}

function renderClasses() {
  const group = $("classes");
  group.replaceChildren();
  const selected = selectedBox();
  const current = selected ? selected.label : state.newClass;
  state.classes.forEach((label, index) => {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = index < 9 ? `${index + 1} ${label}` : label;
    button.setAttribute("aria-pressed", String(label === current));
    button.addEventListener("click", () => setClass(label));
    group.append(button);
  });
}

function renderList() {
  const list = $("box-list");
  list.replaceChildren();
  const boxes = listedBoxes();
  $("box-count").textContent = `(${visibleBoxes().length})`;
  for (const box of boxes) {
    const item = document.createElement("li");
    item.classList.toggle("selected", box.key === state.selected);
    item.classList.toggle("rejected", box.status === "rejected");
    const name = document.createElement("button");
    name.type = "button";
    name.className = "box-name";
    name.textContent = describe(box);
    name.setAttribute("aria-pressed", String(box.key === state.selected));
    name.addEventListener("click", () => select(box.key));
    const accept = document.createElement("button");
    accept.type = "button";
    accept.textContent = box.status === "rejected" ? "Restore" : "Accept";
    accept.setAttribute("aria-label", `${accept.textContent} ${box.label} box`);
    accept.disabled = box.status === "accepted";
    accept.addEventListener("click", () => setStatus(box.key, "accepted"));
    const reject = document.createElement("button");
    reject.type = "button";
    reject.className = "danger";
    reject.textContent = "Reject";
    reject.setAttribute("aria-label", `Reject ${box.label} box`);
    reject.disabled = box.status === "rejected";
    reject.addEventListener("click", () => setStatus(box.key, "rejected"));
    item.append(name, accept, reject);
    list.append(item);
  }
}

const SVG = "http://www.w3.org/2000/svg";

function imageSize() {
  const sample = state.task ? state.task.sample : null;
  return sample ? { w: sample.width || 1, h: sample.height || 1 } : { w: 1, h: 1 };
}

function renderOverlay() {
  const svg = $("overlay");
  const { w, h } = imageSize();
  svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
  svg.replaceChildren();
  // Sizes in image pixels, scaled with the image: handles and tags stay in proportion.
  const handleSize = Math.max(4, w / 60);
  const fontSize = Math.max(6, w / 50);
  for (const box of visibleBoxes()) {
    const rect = document.createElementNS(SVG, "rect");
    rect.setAttribute("x", box.x1 * w);
    rect.setAttribute("y", box.y1 * h);
    rect.setAttribute("width", (box.x2 - box.x1) * w);
    rect.setAttribute("height", (box.y2 - box.y1) * h);
    rect.setAttribute("stroke", colourOf(box.label));
    rect.classList.add("box");
    if (box.status === "proposed") rect.classList.add("proposed");
    if (box.key === state.selected) rect.classList.add("selected");
    rect.dataset.key = box.key;
    svg.append(rect);
    const tag = document.createElementNS(SVG, "text");
    tag.setAttribute("x", box.x1 * w + 2);
    tag.setAttribute("y", Math.max(fontSize, box.y1 * h - fontSize / 4));
    tag.setAttribute("font-size", fontSize);
    tag.classList.add("tag");
    tag.textContent = box.score === null ? box.label : `${box.label} ${box.score.toFixed(2)}`;
    svg.append(tag);
    if (box.key === state.selected) {
      for (const [corner, cx, cy] of [["nw", box.x1, box.y1], ["ne", box.x2, box.y1], ["sw", box.x1, box.y2], ["se", box.x2, box.y2]]) {
        const handle = document.createElementNS(SVG, "rect");
        handle.setAttribute("x", cx * w - handleSize / 2);
        handle.setAttribute("y", cy * h - handleSize / 2);
        handle.setAttribute("width", handleSize);
        handle.setAttribute("height", handleSize);
        handle.classList.add("handle");
        handle.dataset.key = box.key;
        handle.dataset.corner = corner;
        svg.append(handle);
      }
    }
  }
}

// ---- changes (each one undoable) -------------------------------------------

function snapshot() {
  return { boxes: state.boxes.map((b) => ({ ...b })), selected: state.selected, startedFrom: state.startedFrom };
}

function change(mutate) {
  state.undo.push(snapshot());
  state.redo = [];
  mutate();
  render();
}

function restore(from, to) {
  if (from.length === 0) return;
  to.push(snapshot());
  const previous = from.pop();
  state.boxes = previous.boxes;
  state.selected = previous.selected;
  state.startedFrom = previous.startedFrom;
  render();
}

function selectedBox() {
  return state.boxes.find((b) => b.key === state.selected) || null;
}

function select(key) {
  state.selected = key;
  render();
  const box = selectedBox();
  if (box) announce(`Selected ${describe(box)}.`);
}

function cycleSelection(step) {
  const boxes = visibleBoxes();
  if (boxes.length === 0) return;
  const at = boxes.findIndex((b) => b.key === state.selected);
  const next = at < 0 ? (step > 0 ? 0 : boxes.length - 1) : (at + step + boxes.length) % boxes.length;
  select(boxes[next].key);
}

function setStatus(key, status) {
  change(() => {
    const box = state.boxes.find((b) => b.key === key);
    if (box) box.status = status;
    if (status === "rejected" && state.selected === key) state.selected = null;
  });
  announce(status === "rejected" ? "Box rejected." : "Box accepted.");
}

function acceptAll() {
  change(() => {
    for (const box of visibleBoxes()) box.status = "accepted";
  });
  announce(`${visibleBoxes().length} boxes accepted.`);
}

function setClass(label) {
  const box = selectedBox();
  if (!box) {
    state.newClass = label;
    render();
    announce(`New boxes will be ${label}.`);
    return;
  }
  change(() => {
    box.label = label;
    box.status = "accepted";
  });
  announce(`Box is now ${label}.`);
}

function addBox(x1, y1, x2, y2) {
  const box = { key: state.nextKey++, label: state.newClass, x1, y1, x2, y2, score: null, status: "accepted" };
  change(() => {
    state.boxes.push(box);
    state.selected = box.key;
  });
  announce(`Added a ${box.label} box.`);
  return box;
}

// A new box in the middle of what the viewport shows.
function addBoxInView() {
  const viewport = $("viewport");
  const canvas = $("canvas");
  const cx = (viewport.scrollLeft + Math.min(viewport.clientWidth, canvas.clientWidth) / 2) / canvas.clientWidth;
  const cy = (viewport.scrollTop + Math.min(viewport.clientHeight, canvas.clientHeight) / 2) / canvas.clientHeight;
  const half = 0.1 / state.zoom;
  addBox(clamp(cx - half), clamp(cy - half), clamp(cx + half), clamp(cy + half));
}

function clamp(value) {
  return Math.min(1, Math.max(0, value));
}

function moveSelected(dx, dy) {
  const box = selectedBox();
  if (!box) return;
  change(() => {
    const w = box.x2 - box.x1;
    const h = box.y2 - box.y1;
    box.x1 = clamp(Math.min(box.x1 + dx, 1 - w));
    box.y1 = clamp(Math.min(box.y1 + dy, 1 - h));
    box.x2 = box.x1 + w;
    box.y2 = box.y1 + h;
    box.status = "accepted";
  });
}

function resizeSelected(dw, dh) {
  const box = selectedBox();
  if (!box) return;
  change(() => {
    box.x2 = clamp(Math.max(box.x1 + MIN_SIZE, box.x2 + dw));
    box.y2 = clamp(Math.max(box.y1 + MIN_SIZE, box.y2 + dh));
    box.status = "accepted";
  });
}

function copyPrevious() {
  if (!state.task || state.task.previous_labels.length === 0) return;
  change(() => {
    state.boxes = state.task.previous_labels.map((b) => makeBox(b, null, "accepted"));
    state.startedFrom = `copy:${state.task.previous_sample_id}`;
    state.selected = null;
  });
  announce(`Copied ${state.task.previous_labels.length} boxes of the previous image.`);
}

// The production model's boxes, run now on the server, replace the proposal.
async function askProduction() {
  if (!state.task) return;
  const answer = await api.post(taskPath(state.task.sample_id, "/predict"), {});
  change(() => {
    state.boxes = state.boxes.filter((b) => b.score === null);
    for (const b of answer.boxes) state.boxes.push(makeBox(b, b.score, "proposed"));
    state.startedFrom = `server:${answer.model}`;
    state.selected = null;
  });
  announce(`${answer.model} proposed ${visibleBoxes().filter((b) => b.score !== null).length} boxes.`);
}

function setZoom(zoom) {
  state.zoom = Math.min(8, Math.max(1, zoom));
  render();
}

function setThreshold(value) {
  state.threshold = Math.round(Math.min(1, Math.max(0, value)) * 20) / 20;
  render();
}

// ---- finishing a task ------------------------------------------------------

function submission() {
  return {
    boxes: visibleBoxes().map((b) => ({ label: b.label, score: 1, x1: b.x1, y1: b.y1, x2: b.x2, y2: b.y2 })),
    started_from: state.startedFrom,
    threshold: state.threshold,
    spent_ms: Math.round(performance.now() - state.shownAt),
  };
}

function remember(sampleId) {
  if (state.historyAt >= 0) return; // going back through history: it is there already
  state.history = state.history.filter((id) => id !== sampleId);
  state.history.push(sampleId);
}

async function submit() {
  if (!state.task) return;
  const id = state.task.sample_id;
  const count = visibleBoxes().length;
  await api.post(taskPath(id, "/submit"), submission());
  remember(id);
  announce(`Submitted ${count} boxes.`);
  await forward();
}

async function skip() {
  if (!state.task) return;
  await api.post(taskPath(state.task.sample_id, "/skip"), {});
  announce("Skipped.");
  await forward();
}

async function reject(reason) {
  if (!state.task) return;
  await api.post(taskPath(state.task.sample_id, "/reject"), { reason });
  remember(state.task.sample_id);
  announce("Marked unusable.");
  await forward();
}

// After a task: the next one of the history while going back, else the queue's.
async function forward() {
  if (state.historyAt >= 0 && state.historyAt + 1 < state.history.length) {
    state.historyAt += 1;
    return loadTask(state.history[state.historyAt]);
  }
  return loadNext();
}

async function previous() {
  if (state.history.length === 0) return;
  if (state.historyAt < 0) {
    // Leaving a fresh task: give its lease back so nobody waits for it.
    if (state.task && !state.history.includes(state.task.sample_id) && state.task.state === "in_progress")
      await api.post(taskPath(state.task.sample_id, "/release"), {}).catch(() => {});
    state.historyAt = state.history.length - 1;
  } else if (state.historyAt > 0) {
    state.historyAt -= 1;
  } else {
    return;
  }
  await loadTask(state.history[state.historyAt]);
}

// ---- mouse -----------------------------------------------------------------

function pointIn(event) {
  const rect = $("overlay").getBoundingClientRect();
  return { x: clamp((event.clientX - rect.left) / rect.width), y: clamp((event.clientY - rect.top) / rect.height) };
}

let drag = null; // {kind: draw|move|resize, start, box, corner, before}

function onPointerDown(event) {
  if (!state.task || event.button !== 0) return;
  event.preventDefault();
  $("viewport").focus();
  const at = pointIn(event);
  const target = event.target;
  const key = target.dataset ? Number(target.dataset.key) : NaN;
  if (target.dataset && target.dataset.corner) {
    drag = { kind: "resize", corner: target.dataset.corner, box: selectedBox(), before: snapshot() };
  } else if (!Number.isNaN(key) && target.classList.contains("box")) {
    select(key);
    drag = { kind: "move", start: at, box: selectedBox(), origin: { ...selectedBox() }, before: snapshot() };
  } else {
    drag = { kind: "draw", start: at, box: null, before: snapshot() };
  }
  $("overlay").setPointerCapture(event.pointerId);
}

function onPointerMove(event) {
  if (!drag) return;
  const at = pointIn(event);
  if (drag.kind === "draw") {
    if (!drag.box) {
      if (Math.abs(at.x - drag.start.x) < MIN_SIZE && Math.abs(at.y - drag.start.y) < MIN_SIZE) return;
      drag.box = { key: state.nextKey++, label: state.newClass, score: null, status: "accepted" };
      state.boxes.push(drag.box);
      state.selected = drag.box.key;
    }
    Object.assign(drag.box, {
      x1: Math.min(drag.start.x, at.x), y1: Math.min(drag.start.y, at.y),
      x2: Math.max(drag.start.x, at.x), y2: Math.max(drag.start.y, at.y),
    });
  } else if (drag.kind === "move" && drag.box) {
    const w = drag.origin.x2 - drag.origin.x1;
    const h = drag.origin.y2 - drag.origin.y1;
    drag.box.x1 = clamp(Math.min(drag.origin.x1 + at.x - drag.start.x, 1 - w));
    drag.box.y1 = clamp(Math.min(drag.origin.y1 + at.y - drag.start.y, 1 - h));
    drag.box.x2 = drag.box.x1 + w;
    drag.box.y2 = drag.box.y1 + h;
    drag.box.status = "accepted";
  } else if (drag.kind === "resize" && drag.box) {
    const box = drag.box;
    if (drag.corner.includes("w")) box.x1 = Math.min(at.x, box.x2 - MIN_SIZE);
    if (drag.corner.includes("e")) box.x2 = Math.max(at.x, box.x1 + MIN_SIZE);
    if (drag.corner.includes("n")) box.y1 = Math.min(at.y, box.y2 - MIN_SIZE);
    if (drag.corner.includes("s")) box.y2 = Math.max(at.y, box.y1 + MIN_SIZE);
    box.status = "accepted";
  }
  renderOverlay();
}

function onPointerUp() {
  if (!drag) return;
  const changed = JSON.stringify(drag.before.boxes) !== JSON.stringify(state.boxes);
  if (changed) {
    state.undo.push(drag.before);
    state.redo = [];
    if (drag.kind === "draw") announce(`Added a ${drag.box.label} box.`);
  }
  drag = null;
  render();
}

// ---- keyboard --------------------------------------------------------------

function onKey(event) {
  if (!state.session || $("workspace").hidden || $("reject-dialog").open) return;
  const inField = event.target instanceof HTMLInputElement && event.target.type !== "range";
  if (inField) return;
  const ctrl = event.ctrlKey || event.metaKey;
  const key = event.key;
  let handled = true;
  if (ctrl && key === "Enter") attempt(submit);
  else if (ctrl && (key === " " || event.code === "Space")) attempt(skip);
  else if (ctrl && (key === "z" || key === "Z") && !event.shiftKey) restore(state.undo, state.redo);
  else if (ctrl && (key === "y" || ((key === "z" || key === "Z") && event.shiftKey))) restore(state.redo, state.undo);
  else if (ctrl || event.altKey && !key.startsWith("Arrow")) handled = false;
  else if (key === "a" || key === "A") acceptAll();
  else if (key === "n" || key === "N") addBoxInView();
  else if (key === "c" || key === "C") copyPrevious();
  else if (key === "p" || key === "P") attempt(askProduction);
  else if (key === "d" || key === "D") attempt(previous);
  else if (key === "f" || key === "F") attempt(forward);
  else if (key === "j" || key === "J") cycleSelection(1);
  else if (key === "k" || key === "K") cycleSelection(-1);
  else if (key === "y" || key === "Y") { if (state.selected !== null) setStatus(state.selected, "accepted"); }
  else if (key === "x" || key === "X" || key === "Delete" || key === "Backspace") {
    if (state.selected !== null) setStatus(state.selected, "rejected");
  }
  else if (key === "Escape") select(null);
  else if (key === "+" || key === "=") setZoom(state.zoom * 1.25);
  else if (key === "-") setZoom(state.zoom / 1.25);
  else if (key === "0") setZoom(1);
  else if (key === "[") setThreshold(state.threshold - 0.05);
  else if (key === "]") setThreshold(state.threshold + 0.05);
  else if (/^[1-9]$/.test(key) && Number(key) <= state.classes.length) setClass(state.classes[Number(key) - 1]);
  else if (key.startsWith("Arrow") && event.target.type !== "range") handled = arrow(event);
  else handled = false;
  if (handled) event.preventDefault();
}

function arrow(event) {
  const step = event.shiftKey ? NUDGE_FAR : NUDGE;
  const dx = event.key === "ArrowLeft" ? -step : event.key === "ArrowRight" ? step : 0;
  const dy = event.key === "ArrowUp" ? -step : event.key === "ArrowDown" ? step : 0;
  if (state.selected === null) {
    const viewport = $("viewport");
    viewport.scrollBy(dx * $("canvas").clientWidth, dy * $("canvas").clientHeight);
    return true;
  }
  if (event.altKey) resizeSelected(dx, dy);
  else moveSelected(dx, dy);
  return true;
}

// ---- wiring ----------------------------------------------------------------

function wire() {
  $("sign-in").addEventListener("submit", (event) => {
    event.preventDefault();
    attempt(async () => {
      $("sign-in-error").textContent = "";
      try {
        const session = await signIn($("user").value, $("password").value);
        $("password").value = "";
        await startWork(session);
      } catch (error) {
        $("sign-in-error").textContent = error.message;
      }
    });
  });
  $("sign-out").addEventListener("click", () => attempt(async () => {
    await signOut();
    showSignIn();
  }));
  $("threshold").addEventListener("input", (event) => setThreshold(Number(event.target.value)));
  $("accept-all").addEventListener("click", acceptAll);
  $("add-box").addEventListener("click", addBoxInView);
  $("copy-previous").addEventListener("click", copyPrevious);
  $("ask-production").addEventListener("click", () => attempt(askProduction));
  $("undo").addEventListener("click", () => restore(state.undo, state.redo));
  $("redo").addEventListener("click", () => restore(state.redo, state.undo));
  $("submit").addEventListener("click", () => attempt(submit));
  $("skip").addEventListener("click", () => attempt(skip));
  $("previous").addEventListener("click", () => attempt(previous));
  $("next").addEventListener("click", () => attempt(forward));
  $("reject").addEventListener("click", () => $("reject-dialog").showModal());
  $("reject-dialog").addEventListener("close", () => {
    const dialog = $("reject-dialog");
    if (dialog.returnValue !== "reject") return;
    const reason = new FormData($("reject-form")).get("reason");
    attempt(() => reject(String(reason)));
  });
  const overlay = $("overlay");
  overlay.addEventListener("pointerdown", onPointerDown);
  overlay.addEventListener("pointermove", onPointerMove);
  overlay.addEventListener("pointerup", onPointerUp);
  overlay.addEventListener("pointercancel", onPointerUp);
  document.addEventListener("keydown", onKey);
}

wire();
attempt(async () => {
  const session = await currentSession();
  if (session) await startWork(session);
  else showSignIn();
});
