// The loop in detail: a retrain job (why it ran, its lease, what it
// published and how the promotion went) with its pipeline run; a run's
// steps, their logs' ends and its gates; one model version's drift in one
// field over time.
import { html, useLive, api, Loading, Badge, Ago, ConfirmButton, Chart, roleAllows, versionLink } from "../ui.js";

function seconds(value) {
  return typeof value === "number" ? `${value.toFixed(1)} s` : "—";
}

function JobControls({ job, reload }) {
  const act = (operation) => async () => {
    await api.post(`/api/v1/retrain/jobs/${job.id}/${operation}`);
    await reload();
  };
  const open = job.state === "queued" || job.state === "running";
  const awaiting = job.state === "succeeded" && job.promotion === "pending";
  if (!open && !awaiting) return null;
  return html`<div class="actions" role="group" aria-label="Job controls">
    ${awaiting && html`<${ConfirmButton} label="Approve" onConfirm=${act("approve")}
      question=${`Promote ${job.model}:${job.version}? It becomes production and rolls out as the policy says.`} />`}
    ${awaiting && html`<${ConfirmButton} label="Decline" danger onConfirm=${act("decline")}
      question=${`Decline ${job.model}:${job.version}? It stays a challenger and is not rolled out.`} />`}
    ${open && html`<${ConfirmButton} label="Cancel job" danger onConfirm=${act("cancel")}
      question=${`Cancel job ${job.id}? A worker running it stops at its next heartbeat.`} />`}
  </div>`;
}

export function JobPage({ id, role }) {
  const { data: job, error, reload } = useLive(`/api/v1/retrain/jobs/${encodeURIComponent(id)}`, ["retrain", "runs"]);
  if (!job) return html`<h2>Retrain job ${id}</h2><${Loading} error=${error} />`;
  return html`<h2>Retrain job ${job.id}: ${job.model}</h2>
    <p><a href="#/loop">Data and loop</a></p>
    ${roleAllows(role, "publisher") && html`<${JobControls} job=${job} reload=${reload} />`}
    <dl class="facts">
      <dt>State</dt><dd><${Badge} value=${job.state} /></dd>
      <dt>Why</dt><dd>${job.reason}</dd>
      <dt>Dataset</dt><dd>${job.dataset || "—"}</dd>
      <dt>Trained from</dt><dd>${job.parent_version ? versionLink(job.model, job.parent_version) : "no production version"}</dd>
      <dt>Worker</dt><dd>${job.worker || "none yet"}${job.attempts ? ` (${job.attempts} ${job.attempts === 1 ? "lease" : "leases"})` : ""}</dd>
      <dt>Progress</dt><dd>${job.progress || "—"}</dd>
      <dt>Queued</dt><dd><${Ago} at=${job.created_at} /></dd>
      <dt>Started</dt><dd><${Ago} at=${job.started_at} /></dd>
      <dt>Finished</dt><dd>${job.finished_at ? html`<${Ago} at=${job.finished_at} />` : "not yet"}</dd>
      ${job.message && html`<dt>Message</dt><dd>${job.message}</dd>`}
      <dt>Published</dt><dd>${job.version ? versionLink(job.model, job.version) : "nothing"}</dd>
      ${job.promotion && html`<dt>Promotion</dt><dd><${Badge} value=${job.promotion} /> ${job.promotion_note}</dd>`}
      ${job.deployment > 0 && html`<dt>Rollout</dt><dd><a href="#/deployments/${job.deployment}">deployment ${job.deployment}</a></dd>`}
    </dl>
    ${job.run_id ? html`<${RunView} id=${job.run_id} level="3" />` : html`<p>No pipeline run yet.</p>`}`;
}

function StepLog({ step }) {
  if (!step.log_tail) return null;
  const failed = !["succeeded", "cached"].includes(step.status);
  return html`<details open=${failed}>
    <summary>The end of ${step.name}'s log</summary>
    <pre class="log" tabindex="0" aria-label=${`The end of ${step.name}'s log`}>${step.log_tail}</pre>
  </details>`;
}

// A run as its runner last sent it. `level` is the heading level of its parts.
function RunView({ id, level }) {
  const { data: run, error } = useLive(`/api/v1/runs/${encodeURIComponent(id)}`, ["runs"]);
  const H = `h${level}`;
  if (!run) return html`<${Loading} error=${error} />`;
  return html`
    <section aria-labelledby="run-facts"><${H} id="run-facts">Pipeline run ${run.id}</${H}>
      <dl class="facts">
        <dt>Status</dt><dd><${Badge} value=${run.status} /></dd>
        <dt>Pipeline</dt><dd>${run.pipeline?.file ?? "—"}</dd>
        <dt>Commit</dt><dd>${run.git_commit ?? "not in a repository"}</dd>
        <dt>Host</dt><dd>${run.host ?? "—"}</dd>
        <dt>Started</dt><dd><${Ago} at=${run.started_at} /></dd>
        <dt>Took</dt><dd>${seconds(run.duration_s)}</dd>
        ${run.error && html`<dt>Error</dt><dd>${run.error}</dd>`}
        ${(run.model_versions ?? []).length > 0 && html`<dt>Published</dt><dd>${run.model_versions.map(
          (v, i) => html`${i > 0 && ", "}${versionLink(v.model, v.version)}`)}</dd>`}
      </dl></section>
    <section aria-labelledby="run-steps"><${H} id="run-steps">Steps</${H}>
      <table class="list"><thead><tr><th scope="col">Step</th><th scope="col">Status</th><th scope="col">Took</th>
        <th scope="col">Attempts</th><th scope="col">Exit code</th><th scope="col">Error</th></tr></thead>
      <tbody>${run.steps.map((s) => html`<tr><td>${s.name}</td><td><${Badge} value=${s.status} /></td>
        <td>${seconds(s.duration_s)}</td><td>${s.attempts ?? "—"}</td><td>${s.exit_code ?? "—"}</td><td>${s.error ?? ""}</td></tr>`)}
      </tbody></table>
      ${run.steps.map((s) => html`<${StepLog} step=${s} />`)}</section>
    <section aria-labelledby="run-gates"><${H} id="run-gates">Gates</${H}>
      ${run.gates.length === 0 ? html`<p>This pipeline has no gate.</p>` : html`
      <table class="list"><thead><tr><th scope="col">Gate</th><th scope="col">Result</th><th scope="col">Measured</th>
        <th scope="col">Against</th><th scope="col">Why</th></tr></thead>
      <tbody>${run.gates.map((g) => html`<tr><td><code>${g.gate}</code></td><td><${Badge} value=${g.status} /></td>
        <td>${g.left ?? "—"}</td><td>${g.right ?? "—"}</td><td>${g.message ?? ""}</td></tr>`)}</tbody></table>`}</section>`;
}

export function RunPage({ id }) {
  return html`<h2>Pipeline run ${id}</h2>
    <p><a href="#/loop">Data and loop</a></p>
    <${RunView} id=${id} level="3" />`;
}

const MEASURES = [
  { name: "psi", title: "Population stability index of confidences" },
  { name: "low_confidence", title: "Rise in detections below 0.5" },
  { name: "disagreement", title: "Disagreement with the shadow model" },
];

export function DriftPage({ model, field }) {
  const path = model && field !== null ? `/api/v1/drift/history?${new URLSearchParams({ model, field, hours: 336 })}` : null;
  const { data, error } = useLive(path, ["device/records"]);
  const title = html`<h2>Drift of ${model} in ${field || "no field"}</h2><p><a href="#/loop">Data and loop</a></p>`;
  if (!path) return html`${title}<p class="error" role="alert">The address names no model and field.</p>`;
  if (!data) return html`${title}<${Loading} error=${error} />`;
  const times = data.points.map((p) => Date.parse(p.hour) / 1000);
  const latest = data.points[data.points.length - 1] ?? {};
  return html`${title}
    <p>Each point is what the monitor measured at the end of that hour: the latest ${data.window_s / 3600} hours
      against the first ${data.window_s / 3600} hours from ${data.reference_from}. A gap means too little data.</p>
    <table class="list"><caption>The latest hour against each threshold</caption>
      <thead><tr><th scope="col">Measure</th><th scope="col">Latest</th><th scope="col">Threshold</th></tr></thead>
      <tbody>${MEASURES.map((m) => html`<tr><td>${m.title}</td>
        <td>${latest[m.name] == null ? "not enough data" : latest[m.name].toFixed(3)}</td><td>${data.thresholds[m.name]}</td></tr>`)}
      </tbody></table>
    <div class="two">
      ${MEASURES.map((m) => html`<${Chart} title=${m.title} times=${times} series=${[
        { label: m.name, values: data.points.map((p) => p[m.name]) },
        { label: "threshold", values: data.points.map(() => data.thresholds[m.name]) },
      ]} />`)}
      <${Chart} title="Detections per hour" times=${times} series=${[{ label: "detections", values: data.points.map((p) => p.detections) }]} />
    </div>`;
}
