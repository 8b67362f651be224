// The fleet and the fields at a glance: devices by presence, status and
// model, the rollouts under way, open alerts, the labeling queue and drift.
import { html, useLive, Loading, Counts, Progress, Badge, roleAllows } from "../ui.js";

function ActiveRollouts() {
  const { data, error } = useLive("/api/v1/deployments", ["deployments", "device/status"]);
  if (!data) return html`<${Loading} error=${error} />`;
  const active = data.deployments.filter((d) => d.state === "running" || d.state === "paused");
  if (active.length === 0) return html`<p>No rollout is under way.</p>`;
  return html`<ul class="plain">${active.map((d) => html`<li>
    <a href="#/deployments/${d.id}">Deployment ${d.id}: ${d.model}:${d.version}</a> <${Badge} value=${d.state} />
    <${Progress} deployment=${d} /></li>`)}</ul>`;
}

function OpenAlerts() {
  const { data, error } = useLive("/api/v1/alerts?state=open", ["device/records", "alerts"]);
  if (!data) return html`<${Loading} error=${error} />`;
  const bySeverity = {};
  for (const alert of data.alerts) bySeverity[alert.severity] = (bySeverity[alert.severity] ?? 0) + 1;
  return html`<${Counts} counts=${bySeverity} />`;
}

function LabelingQueue() {
  const { data, error } = useLive("/api/v1/labeling/stats", ["labeling", "device/samples"]);
  if (!data) return html`<${Loading} error=${error} />`;
  return html`<${Counts} counts=${data.by_state} />`;
}

function Drift() {
  const { data, error } = useLive("/api/v1/drift", ["device/records", "retrain"]);
  if (!data) return html`<${Loading} error=${error} />`;
  if (data.alerts.length === 0) return html`<p>No field has drifted.</p>`;
  return html`<ul>${data.alerts.map((a) => html`<li><${Badge} value=${a.field} /> ${a.description}</li>`)}</ul>`;
}

export function OverviewPage({ role }) {
  const { data, error } = useLive("/api/v1/fleet/summary", ["devices", "device/status", "device/records"]);
  return html`<h2>Overview</h2>
    ${!data ? html`<${Loading} error=${error} />` : html`<div class="cards">
      <section class="card" aria-labelledby="presence"><h3 id="presence">Devices by presence</h3>
        <${Counts} counts=${data.by_presence} link=${(p) => `#/devices?presence=${p}`} /></section>
      <section class="card" aria-labelledby="status"><h3 id="status">Devices by status</h3>
        <${Counts} counts=${data.by_status} link=${(s) => `#/devices?status=${s}`} /></section>
      <section class="card" aria-labelledby="health"><h3 id="health">Devices by health</h3>
        <${Counts} counts=${data.by_health} /></section>
      <section class="card" aria-labelledby="models"><h3 id="models">Devices by model version</h3>
        <${Counts} counts=${data.by_model} link=${(m) => `#/devices?model=${encodeURIComponent(m)}`} /></section>
    </div>`}
    <div class="cards">
      <section class="card" aria-labelledby="rollouts"><h3 id="rollouts">Active rollouts</h3><${ActiveRollouts} /></section>
      <section class="card" aria-labelledby="alerts"><h3 id="alerts">Open alerts</h3><${OpenAlerts} /></section>
      ${roleAllows(role, "labeler") && html`<section class="card" aria-labelledby="queue"><h3 id="queue">Labeling queue</h3><${LabelingQueue} /></section>`}
      <section class="card" aria-labelledby="drift"><h3 id="drift">Drift</h3><${Drift} /></section>
    </div>`;
}
