// Devices: thousands, filtered as you type, sorted and paged by the server
// (GET /api/v1/devices, docs/fleet.md "Listing devices"); the filter lives
// in the address, so a filtered list can be shared. And one device in full.
import { html, useState, useEffect, useRef, useLive, api, Loading, Badge, Ago, modelLabel, Chart, Counts } from "../ui.js";
import { onChange } from "../live.js";

const PAGE_SIZE = 50;
const COLUMNS = [
  ["id", "Device"], ["name", "Name"], ["group", "Group"], ["status", "Status"], ["model", "Model"],
  ["state", "Update"], ["health", "Health"], ["last_seen", "Last seen"],
];
const FILTERS = ["q", "status", "presence", "model", "group", "tag", "health"];

function setParams(params, changes) {
  const next = new URLSearchParams(params);
  for (const [key, value] of Object.entries(changes)) {
    if (value === "" || value === null || value === undefined) next.delete(key);
    else next.set(key, value);
  }
  if (!("offset" in changes)) next.delete("offset");
  history.replaceState(null, "", `#/devices?${next}`);
  dispatchEvent(new HashChangeEvent("hashchange"));
}

export function DevicesPage({ params }) {
  const [result, setResult] = useState(null);
  const [error, setError] = useState(null);
  const [text, setText] = useState(params.get("q") ?? "");
  const latest = useRef(0);
  const query = new URLSearchParams();
  for (const key of [...FILTERS, "sort", "order", "offset"]) if (params.get(key)) query.set(key, params.get(key));
  query.set("limit", PAGE_SIZE);
  const path = `/api/v1/devices?${query}`;

  useEffect(() => {
    // Only the answer to the newest query is shown: typing fast must not show an older filter's rows.
    const load = async () => {
      const mine = ++latest.current;
      try {
        const body = await api.get(path);
        if (mine === latest.current) { setResult(body); setError(null); }
      } catch (e) {
        if (mine === latest.current) setError(e);
      }
    };
    load();
    let pending = null;
    const stop = onChange(["devices", "device/status"], () => {
      pending ??= setTimeout(() => { pending = null; load(); }, 500);
    });
    return () => { stop(); clearTimeout(pending); };
  }, [path]);

  const sort = params.get("sort") ?? "id";
  const order = params.get("order") ?? "asc";
  const offset = Number(params.get("offset") ?? 0);
  const sortBy = (key) => setParams(params, { sort: key, order: key === sort && order === "asc" ? "desc" : "asc" });
  const filter = (key) => (event) => setParams(params, { [key]: event.target.value });

  return html`<h2>Devices</h2>
    <form class="filters" role="search" onSubmit=${(e) => e.preventDefault()}>
      <label>Filter <input type="search" id="device-filter" value=${text} placeholder="name, tag, model, group…"
        onInput=${(e) => { setText(e.target.value); setParams(params, { q: e.target.value }); }} /></label>
      <label>Status <select value=${params.get("status") ?? ""} onChange=${filter("status")}>
        ${["", "pending", "active", "revoked", "decommissioned"].map((s) => html`<option value=${s}>${s || "any"}</option>`)}
      </select></label>
      <label>Presence <select value=${params.get("presence") ?? ""} onChange=${filter("presence")}>
        ${["", "online", "stale", "never"].map((s) => html`<option value=${s}>${s || "any"}</option>`)}
      </select></label>
      <label>Model <input value=${params.get("model") ?? ""} placeholder="name or name:version" onChange=${filter("model")} /></label>
      <label>Tag <input value=${params.get("tag") ?? ""} placeholder="key or key:value" onChange=${filter("tag")} /></label>
    </form>
    ${error && html`<${Loading} error=${error} />`}
    ${!result ? !error && html`<${Loading} />` : html`
      <p role="status" id="device-count">${result.total} devices${result.total > PAGE_SIZE ? `, ${offset + 1}–${Math.min(result.total, offset + PAGE_SIZE)} shown` : ""}</p>
      <table class="list" aria-describedby="device-count">
        <thead><tr>${COLUMNS.map(([key, title]) => html`
          <th scope="col" aria-sort=${key === sort ? (order === "asc" ? "ascending" : "descending") : "none"}>
            <button type="button" class="sort" onClick=${() => sortBy(key)}>${title}${key === sort ? (order === "asc" ? " ▲" : " ▼") : ""}</button></th>`)}
        </tr></thead>
        <tbody>${result.devices.map((d) => html`<tr>
          <td><a href="#/devices/${encodeURIComponent(d.id)}">${d.id}</a></td>
          <td>${d.name}</td><td>${d.group}</td><td><${Badge} value=${d.status} /></td>
          <td>${modelLabel(d.current)}</td><td><${Badge} value=${d.state} /></td>
          <td><${Badge} value=${d.health} /></td><td><${Ago} at=${d.last_seen} /></td></tr>`)}
        </tbody>
      </table>
      <nav class="pager" aria-label="Pages of devices">
        <button type="button" disabled=${offset === 0}
          onClick=${() => setParams(params, { offset: Math.max(0, offset - PAGE_SIZE) })}>Previous</button>
        <button type="button" disabled=${offset + PAGE_SIZE >= result.total}
          onClick=${() => setParams(params, { offset: offset + PAGE_SIZE })}>Next</button>
      </nav>`}`;
}

function Telemetry({ id }) {
  const { data } = useLive(`/api/v1/devices/${encodeURIComponent(id)}/telemetry?limit=500`, ["device/records"]);
  const { data: readings } = useLive(`/api/v1/devices/${encodeURIComponent(id)}/readings?limit=1000`, ["device/records"]);
  if (!data || !readings) return html`<${Loading} />`;
  const rows = [...data.telemetry].reverse();
  const times = rows.map((t) => t.at_ms / 1000);
  const names = [...new Set(rows.flatMap((t) => Object.keys(t.values)))].sort();
  const sensors = {};
  for (const r of [...readings.readings].reverse()) {
    if (r.status !== "valid") continue;
    (sensors[r.sensor] ??= { times: [], values: [] });
    sensors[r.sensor].times.push(r.at_ms / 1000);
    sensors[r.sensor].values.push(r.value);
  }
  return html`<div class="two">
    ${Object.entries(sensors).map(([sensor, s]) => html`<${Chart} title=${`Sensor ${sensor}`} times=${s.times} series=${[{ label: sensor, values: s.values }]} />`)}
    ${names.map((name) => html`<${Chart} title=${name} times=${times} series=${[{ label: name, values: rows.map((t) => t.values[name] ?? null) }]} />`)}
    ${names.length === 0 && Object.keys(sensors).length === 0 && html`<p>No telemetry yet.</p>`}
  </div>`;
}

export function DevicePage({ id }) {
  const path = `/api/v1/devices/${encodeURIComponent(id)}`;
  const { data: d, error } = useLive(path, ["devices", "device/status"]);
  const { data: alerts } = useLive(`/api/v1/alerts?device=${encodeURIComponent(id)}&limit=20`, ["device/records", "alerts"]);
  const { data: irrigation } = useLive(`${path}/irrigation?limit=20`, ["device/records"]);
  const { data: samples } = useLive(`/api/v1/samples?device=${encodeURIComponent(id)}&limit=10`, ["device/samples"]);
  if (!d) return html`<${Loading} error=${error} />`;
  return html`<h2>Device ${d.name || d.id}</h2>
    <p><a href="#/devices">All devices</a></p>
    <div class="cards">
      <section class="card" aria-labelledby="identity"><h3 id="identity">Identity</h3><dl>
        <dt>Id</dt><dd>${d.id}</dd><dt>Group</dt><dd>${d.group || "—"}</dd>
        <dt>Status</dt><dd><${Badge} value=${d.status} /></dd><dt>Agent</dt><dd>${d.agent_version || "—"}</dd>
        <dt>Enrolled</dt><dd><${Ago} at=${d.enrolled_at} /></dd><dt>Last seen</dt><dd><${Ago} at=${d.last_seen} /></dd></dl></section>
      <section class="card" aria-labelledby="tags"><h3 id="tags">Tags</h3><${Counts} counts=${d.tags} /></section>
      <section class="card" aria-labelledby="model"><h3 id="model">Model</h3><dl>
        <dt>Current</dt><dd>${modelLabel(d.current)}</dd><dt>Previous</dt><dd>${modelLabel(d.previous)}</dd>
        <dt>Update</dt><dd><${Badge} value=${d.state} /></dd><dt>Health</dt><dd><${Badge} value=${d.health} /></dd>
        ${d.last_error && html`<dt>Last error</dt><dd>${d.last_error}</dd>`}</dl></section>
    </div>
    <section aria-labelledby="telemetry"><h3 id="telemetry">Telemetry</h3><${Telemetry} id=${id} /></section>
    <section aria-labelledby="reports"><h3 id="reports">Update reports</h3>
      <table class="list"><thead><tr><th scope="col">Received</th><th scope="col">Deployment</th><th scope="col">State</th><th scope="col">Model</th><th scope="col">Error</th></tr></thead>
      <tbody>${(d.reports ?? []).map((r) => html`<tr><td><${Ago} at=${r.received_at} /></td>
        <td>${r.deployment_id ? html`<a href="#/deployments/${r.deployment_id}">${r.deployment_id}</a>` : "—"}</td>
        <td><${Badge} value=${r.state} /></td><td>${modelLabel(r.current)}</td><td>${r.error}</td></tr>`)}</tbody></table></section>
    <div class="two">
      <section aria-labelledby="device-alerts"><h3 id="device-alerts">Alerts</h3>
        ${!alerts ? html`<${Loading} />` : alerts.alerts.length === 0 ? html`<p>None.</p>` : html`<ul>${alerts.alerts.map((a) => html`<li><${Badge} value=${a.severity} /> ${a.message} (${a.state})</li>`)}</ul>`}</section>
      <section aria-labelledby="irrigation-history"><h3 id="irrigation-history">Irrigation</h3>
        ${!irrigation ? html`<${Loading} />` : irrigation.irrigation.length === 0 ? html`<p>None.</p>` : html`<ul>${irrigation.irrigation.map((a) => html`<li>${new Date(a.at_ms).toISOString()}: ${a.zone} ${a.open ? "opened" : "closed"} (${a.reason})</li>`)}</ul>`}</section>
      <section aria-labelledby="recent-samples"><h3 id="recent-samples">Recent samples</h3>
        ${!samples ? html`<${Loading} />` : samples.samples.length === 0 ? html`<p>None.</p>` : html`<ul>${samples.samples.map((s) => html`<li>${s.id}: ${s.reasons.map((r) => r.strategy).join(", ") || "random"}</li>`)}</ul>`}</section>
    </div>`;
}
