// Deployments: every rollout with its progress, and one in full: its
// stages with counts per state, the failures with their reasons, and the
// controls for those allowed to use them (publisher and above, as the
// server decides; docs/fleet.md), each asking before it acts.
import { html, useLive, api, Loading, Badge, Progress, Ago, ConfirmButton, Counts, roleAllows } from "../ui.js";

const TOPICS = ["deployments", "device/status"];

export function DeploymentsPage() {
  const { data, error } = useLive("/api/v1/deployments", TOPICS);
  if (!data) return html`<h2>Deployments</h2><${Loading} error=${error} />`;
  const rows = [...data.deployments].sort((a, b) => b.id - a.id);
  return html`<h2>Deployments</h2>
    ${rows.length === 0 ? html`<p>No deployment yet.</p>` : html`
    <table class="list"><thead><tr><th scope="col">Deployment</th><th scope="col">Model</th><th scope="col">State</th>
      <th scope="col">Stage</th><th scope="col">Progress</th><th scope="col">Failures</th><th scope="col">Updated</th></tr></thead>
    <tbody>${rows.map((d) => html`<tr>
      <td><a href="#/deployments/${d.id}">${d.id}</a></td><td>${d.model}:${d.version}</td>
      <td><${Badge} value=${d.state} /></td><td>${d.stage_name}</td><td><${Progress} deployment=${d} /></td>
      <td>${d.failures}</td><td><${Ago} at=${d.updated_at} /></td></tr>`)}</tbody></table>`}`;
}

function Controls({ deployment, reload }) {
  const act = (operation) => async () => {
    await api.post(`/api/v1/deployments/${deployment.id}/${operation}`);
    await reload();
  };
  const d = deployment;
  return html`<div class="actions" role="group" aria-label="Deployment controls">
    ${d.state === "running" && html`<${ConfirmButton} label="Pause" onConfirm=${act("pause")}
      question=${`Pause deployment ${d.id}? No device starts the update until it is resumed; devices already updating finish.`} />`}
    ${d.state === "paused" && html`<${ConfirmButton} label="Resume" onConfirm=${act("resume")}
      question=${`Resume deployment ${d.id}? Its failures so far are accepted and the rollout goes on.`} />`}
    ${(d.state === "running" || d.state === "paused") && html`<${ConfirmButton} label="Abort" danger onConfirm=${act("abort")}
      question=${`Abort deployment ${d.id}? No more devices get ${d.model}:${d.version}; those that have it keep it.`} />`}
    ${d.state !== "rolled-back" && d.state !== "aborted" && html`<${ConfirmButton} label="Roll back" danger onConfirm=${act("rollback")}
      question=${`Roll back deployment ${d.id}? Every device that installed ${d.model}:${d.version} returns to its previous model.`} />`}
  </div>`;
}

export function DeploymentPage({ id, role }) {
  const { data: d, error, reload } = useLive(`/api/v1/deployments/${encodeURIComponent(id)}`, TOPICS);
  if (!d) return html`<h2>Deployment ${id}</h2><${Loading} error=${error} />`;
  return html`<h2>Deployment ${d.id}: ${d.model}:${d.version}</h2>
    <p><a href="#/deployments">All deployments</a></p>
    <div class="cards">
      <section class="card" aria-labelledby="about"><h3 id="about">State</h3><dl>
        <dt>State</dt><dd id="deployment-state"><${Badge} value=${d.state} /></dd>
        ${d.reason && html`<dt>Why</dt><dd>${d.reason}</dd>`}
        <dt>Stage</dt><dd>${d.stage_name} (since <${Ago} at=${d.stage_started_at} />)</dd>
        <dt>Created</dt><dd><${Ago} at=${d.created_at} /> by ${d.created_by}</dd></dl></section>
      <section class="card" aria-labelledby="counts"><h3 id="counts">Devices by state</h3>
        <div id="deployment-counts"><${Counts} counts=${d.counts} /></div></section>
      <section class="card" aria-labelledby="progress"><h3 id="progress">Progress</h3>
        <${Progress} deployment=${d} />
        <p>${d.successes} succeeded, ${d.failures} failed, of ${d.targeted} targeted</p></section>
    </div>
    ${roleAllows(role, "publisher") ? html`<${Controls} deployment=${d} reload=${reload} />`
      : html`<p class="notice-inline">Pausing, resuming, aborting and rolling back need the publisher role or above.</p>`}
    <section aria-labelledby="stages"><h3 id="stages">Stages</h3>
      <table class="list"><thead><tr><th scope="col">Stage</th><th scope="col">Devices</th><th scope="col">Admitted</th>
        <th scope="col">Succeeded</th><th scope="col">Failed</th><th scope="col">Soak</th><th scope="col">Status</th></tr></thead>
      <tbody>${(d.stages ?? []).map((s) => html`<tr><td>${s.name}</td><td>${s.size}</td><td>${s.admitted}</td>
        <td>${s.successes}</td><td>${s.failures}</td><td>${s.soak_s} s</td><td><${Badge} value=${s.status} /></td></tr>`)}</tbody></table></section>
    <section aria-labelledby="failures"><h3 id="failures">Failures</h3>
      ${(d.failure_reports ?? []).length === 0 ? html`<p>None.</p>` : html`
      <table class="list"><thead><tr><th scope="col">Device</th><th scope="col">State</th><th scope="col">Reason</th><th scope="col">When</th></tr></thead>
      <tbody>${d.failure_reports.map((f) => html`<tr><td><a href="#/devices/${encodeURIComponent(f.device_id)}">${f.name || f.device_id}</a></td>
        <td><${Badge} value=${f.state} /></td><td>${f.error}</td><td><${Ago} at=${f.at} /></td></tr>`)}</tbody></table>`}</section>`;
}
