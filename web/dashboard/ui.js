// What every page of the dashboard shares: Preact through htm (from npm,
// served by the server itself), the API, reading data that stays live, and
// small views.
import { html, useState, useEffect, useRef, useCallback } from "/vendor/htm/standalone.module.js";
import { api } from "/assets/api.js";
import { onChange } from "./live.js";

export { html, render, useState, useEffect, useRef, useCallback, useMemo } from "/vendor/htm/standalone.module.js";
export { api } from "/assets/api.js";

// Roles as the server ranks them (docs/api.md, "Access"); labeler stands apart.
const RANK = { reader: 1, publisher: 2, operator: 3, admin: 4 };
export function roleAllows(role, least) {
  if (least === "labeler") return role === "labeler" || (RANK[role] ?? 0) >= RANK.publisher;
  return (RANK[role] ?? 0) >= RANK[least];
}

// Reads `path` now and again whenever a change in `topics` arrives (at most
// every 300 ms, so a burst of reports is one read). `path` null reads nothing.
export function useLive(path, topics) {
  const [state, setState] = useState({ data: null, error: null });
  const pending = useRef(null);
  const load = useCallback(async () => {
    if (!path) return;
    try {
      setState({ data: await api.get(path), error: null });
    } catch (error) {
      setState((old) => ({ data: old.data, error }));
    }
  }, [path]);
  useEffect(() => {
    load();
    const stop = onChange(topics, () => {
      if (pending.current) return;
      pending.current = setTimeout(() => {
        pending.current = null;
        load();
      }, 300);
    });
    return () => {
      stop();
      clearTimeout(pending.current);
      pending.current = null;
    };
  }, [load, topics.join(",")]);
  return { ...state, reload: load };
}

export function Loading({ error }) {
  if (error) return html`<p class="error" role="alert">${error.message}</p>`;
  return html`<p class="loading">Loading…</p>`;
}

const TONE = {
  online: "good", ok: "good", active: "good", success: "good", completed: "good", running: "good",
  stale: "warn", paused: "warn", pending: "warn", downloading: "warn", installing: "warn", verifying: "warn",
  "health-checking": "warn", waiting: "quiet", never: "quiet", idle: "quiet", superseded: "quiet",
  failed: "bad", "rolled-back": "bad", aborted: "bad", revoked: "bad", decommissioned: "quiet", "no-model": "warn",
  critical: "bad", warning: "warn", info: "quiet", open: "bad",
};
export function Badge({ value }) {
  return html`<span class="badge ${TONE[value] ?? "quiet"}">${value || "—"}</span>`;
}

// "3 min ago" from an ISO time; the exact time on hover.
export function Ago({ at }) {
  if (!at) return html`<span>never</span>`;
  const seconds = Math.max(0, (Date.now() - Date.parse(at)) / 1000);
  const text = seconds < 60 ? `${Math.round(seconds)} s ago`
    : seconds < 3600 ? `${Math.round(seconds / 60)} min ago`
    : seconds < 86400 ? `${Math.round(seconds / 3600)} h ago` : `${Math.round(seconds / 86400)} d ago`;
  return html`<time datetime=${at} title=${at}>${text}</time>`;
}

// A link to a model version's page (its lineage): versionLink("m", 3) or versionLink("m:3").
export function versionLink(model, version) {
  if (version === undefined) [model, version] = model.split(":");
  return html`<a href="#/models/${encodeURIComponent(model)}/versions/${version}">${model}:${version}</a>`;
}

export function modelLabel(model) {
  return model ? `${model.name}:${model.version}` : "none";
}

// A table of counts, as a definition list, largest first.
export function Counts({ counts, link }) {
  const rows = Object.entries(counts ?? {}).sort((a, b) => b[1] - a[1]);
  if (rows.length === 0) return html`<p>None.</p>`;
  return html`<dl>${rows.map(([name, count]) => html`
    <dt>${link ? html`<a href=${link(name)}>${name}</a>` : name}</dt><dd>${count}</dd>`)}</dl>`;
}

// Progress of a deployment: succeeded, failed and busy shares of its targets.
export function Progress({ deployment }) {
  const total = Math.max(1, deployment.targeted);
  const busy = Math.max(0, deployment.admitted - deployment.successes - deployment.failures);
  const pct = (n) => `${(100 * n) / total}%`;
  const label = `${deployment.successes} succeeded, ${deployment.failures} failed, ${busy} updating, of ${deployment.targeted}`;
  return html`<div class="progress" role="img" aria-label=${label} title=${label}>
    <span class="ok" style=${{ width: pct(deployment.successes) }}></span>
    <span class="fail" style=${{ width: pct(deployment.failures) }}></span>
    <span class="busy" style=${{ width: pct(busy) }}></span>
  </div>`;
}

// A button that asks before it acts, in a modal dialog the keyboard can use.
export function ConfirmButton({ label, question, onConfirm, danger }) {
  const dialog = useRef(null);
  const [error, setError] = useState(null);
  const confirm = async (event) => {
    event.preventDefault();
    try {
      await onConfirm();
      setError(null);
      dialog.current.close();
    } catch (e) {
      setError(e.message);
    }
  };
  return html`
    <button type="button" class=${danger ? "danger" : ""} onClick=${() => dialog.current.showModal()}>${label}</button>
    <dialog ref=${dialog} aria-label=${label}>
      <form method="dialog" onSubmit=${confirm}>
        <p>${question}</p>
        ${error && html`<p class="error" role="alert">${error}</p>`}
        <div class="actions">
          <button type="submit" class="primary">${label}</button>
          <button type="button" onClick=${() => dialog.current.close()}>Cancel</button>
        </div>
      </form>
    </dialog>`;
}

// A line chart (uPlot) of `series` over `times` (seconds since the epoch).
export function Chart({ title, times, series }) {
  const box = useRef(null);
  useEffect(() => {
    if (!box.current || !window.uPlot || times.length === 0) return undefined;
    const colours = ["#1d5e34", "#0b57d0", "#8f1d1d", "#7a4b00"];
    const plot = new window.uPlot(
      {
        title,
        width: Math.max(300, box.current.clientWidth - 16),
        height: 200,
        series: [{}, ...series.map((s, i) => ({ label: s.label, stroke: colours[i % colours.length] }))],
      },
      [times, ...series.map((s) => s.values)],
      box.current,
    );
    return () => plot.destroy();
  }, [title, times, series]);
  return html`<figure class="chart" ref=${box} aria-label=${title}></figure>`;
}
