// Data and the loop: the samples devices kept and why, the labeling queue,
// dataset versions, pipeline runs, retrain jobs and drift per field. Runs,
// jobs and drift over time open in loop_detail.js.
import { html, useLive, Loading, Badge, Ago, Counts, roleAllows } from "../ui.js";
import { JobPage, RunPage, DriftPage } from "./loop_detail.js";
import { SamplePage } from "./lineage.js";

function Samples() {
  const { data, error } = useLive("/api/v1/samples/stats", ["device/samples", "device/records"]);
  if (!data) return html`<${Loading} error=${error} />`;
  return html`<div class="cards">
    <section class="card" aria-labelledby="samples-total"><h3 id="samples-total">Samples kept</h3><dl>
      <dt>Samples</dt><dd>${data.samples}</dd><dt>Random</dt><dd>${data.random}</dd>
      <dt>Size</dt><dd>${(data.bytes / 1048576).toFixed(1)} MiB</dd></dl></section>
    <section class="card" aria-labelledby="by-strategy"><h3 id="by-strategy">By strategy</h3><${Counts} counts=${data.by_strategy} /></section>
    <section class="card" aria-labelledby="by-class"><h3 id="by-class">By predicted class</h3><${Counts} counts=${data.by_predicted_class} /></section>
  </div>`;
}

function Labeling() {
  const { data, error } = useLive("/api/v1/labeling/stats", ["labeling", "device/samples"]);
  if (!data) return html`<${Loading} error=${error} />`;
  return html`<div class="cards">
    <section class="card" aria-labelledby="queue-state"><h3 id="queue-state">Queue</h3><${Counts} counts=${data.by_state} /></section>
    <section class="card" aria-labelledby="boxes-class"><h3 id="boxes-class">Boxes by class</h3><${Counts} counts=${data.boxes_by_class} /></section>
  </div>`;
}

function Datasets() {
  const { data, error } = useLive("/api/v1/datasets", ["datasets"]);
  if (!data) return html`<${Loading} error=${error} />`;
  if (data.versions.length === 0) return html`<p>No dataset version yet.</p>`;
  return html`<table class="list"><thead><tr><th scope="col">Dataset</th><th scope="col">Items</th><th scope="col">Created</th><th scope="col">By</th></tr></thead>
    <tbody>${data.versions.map((v) => html`<tr><td>${v.name}@${v.version}</td><td>${Array.isArray(v.items) ? v.items.length : v.items}</td>
      <td><${Ago} at=${v.created_at} /></td><td>${v.created_by}</td></tr>`)}</tbody></table>`;
}

function Runs() {
  const { data, error } = useLive("/api/v1/runs?limit=20", ["runs"]);
  if (!data) return html`<${Loading} error=${error} />`;
  if (data.runs.length === 0) return html`<p>No pipeline run yet.</p>`;
  return html`<table class="list"><thead><tr><th scope="col">Run</th><th scope="col">Pipeline</th><th scope="col">Status</th><th scope="col">Steps</th><th scope="col">Started</th></tr></thead>
    <tbody>${data.runs.map((r) => html`<tr><td><a href="#/loop/runs/${encodeURIComponent(r.id)}">${r.id}</a></td><td>${r.pipeline}</td><td><${Badge} value=${r.status} /></td>
      <td>${r.steps}</td><td><${Ago} at=${r.started_at} /></td></tr>`)}</tbody></table>`;
}

function RetrainJobs() {
  const { data, error } = useLive("/api/v1/retrain/jobs?limit=20", ["retrain"]);
  if (!data) return html`<${Loading} error=${error} />`;
  if (data.jobs.length === 0) return html`<p>No retrain job yet.</p>`;
  return html`<table class="list"><thead><tr><th scope="col">Job</th><th scope="col">Model</th><th scope="col">Why</th><th scope="col">State</th>
      <th scope="col">Progress</th><th scope="col">Run</th><th scope="col">Created</th></tr></thead>
    <tbody>${data.jobs.map((j) => html`<tr><td><a href="#/loop/jobs/${j.id}">${j.id}</a></td><td>${j.model}</td><td>${j.reason}</td><td><${Badge} value=${j.state} /></td>
      <td>${j.progress ?? ""}</td><td>${j.run_id ? html`<a href="#/loop/runs/${encodeURIComponent(j.run_id)}">${j.run_id}</a>` : "—"}</td><td><${Ago} at=${j.created_at} /></td></tr>`)}</tbody></table>`;
}

function driftLink(report) {
  return `#/loop/drift?${new URLSearchParams({ model: report.model, field: report.field })}`;
}

function DriftReports() {
  const { data, error } = useLive("/api/v1/drift", ["device/records", "retrain"]);
  if (!data) return html`<${Loading} error=${error} />`;
  if (data.reports.length === 0) return html`<p>No drift report yet: fields report once devices send telemetry.</p>`;
  return html`<table class="list"><thead><tr><th scope="col">Model</th><th scope="col">Field</th><th scope="col">Measure</th>
      <th scope="col">Value</th><th scope="col">Threshold</th><th scope="col">Drifted</th></tr></thead>
    <tbody>${data.reports.flatMap((r) => r.measures.map((m) => html`<tr><td>${r.model}</td>
      <td><a href=${driftLink(r)}>${r.field}<span class="visually-hidden"> (${r.model}) over time</span></a></td><td>${m.name}</td>
      <td>${m.value === null ? "—" : m.value.toFixed(3)}</td><td>${m.threshold}</td><td>${m.drifted ? "yes" : "no"}</td></tr>`))}</tbody></table>`;
}

export function LoopPage({ role }) {
  return html`<h2>Data and loop</h2>
    <section aria-labelledby="samples"><h3 id="samples">Samples</h3><${Samples} /></section>
    ${roleAllows(role, "labeler") && html`<section aria-labelledby="labeling"><h3 id="labeling">Labeling</h3><${Labeling} /></section>`}
    <section aria-labelledby="datasets"><h3 id="datasets">Dataset versions</h3><${Datasets} /></section>
    <section aria-labelledby="runs"><h3 id="runs">Pipeline runs</h3><${Runs} /></section>
    <section aria-labelledby="jobs"><h3 id="jobs">Retrain jobs</h3><${RetrainJobs} /></section>
    <section aria-labelledby="drift-reports"><h3 id="drift-reports">Drift per field</h3><${DriftReports} /></section>`;
}

// #/loop/jobs/7, #/loop/runs/ID, #/loop/samples/ID, #/loop/drift?model=&field=
export function LoopDetail({ id, params, role }) {
  const [kind, ...rest] = id.split("/");
  const key = rest.join("/");
  if (kind === "jobs") return html`<${JobPage} id=${key} role=${role} />`;
  if (kind === "runs") return html`<${RunPage} id=${key} />`;
  if (kind === "samples") return html`<${SamplePage} id=${key} />`;
  if (kind === "drift") return html`<${DriftPage} model=${params.get("model")} field=${params.get("field")} />`;
  return html`<h2>Data and loop</h2><p>Nothing is at this address. <a href="#/loop">Back to the loop</a></p>`;
}
