// Fields: each field (a group of devices) as a plan of its devices, each
// coloured by whether it is heard from, with its soil moisture per sensor and
// its open alerts by zone. Colour is never the only sign: every tile says in
// words what its colour says.
import { html, useLive, Loading, Badge, Ago, modelLabel } from "../ui.js";

const TILES_PER_PAGE = 48;

// Volumetric water content (m³/m³) in three bands a person reads at a glance;
// the device's own FAO-56 rule, with its zone's soil, decides irrigation.
function moistureBand(value) {
  if (value < 0.15) return "dry";
  if (value < 0.25) return "moderate";
  return "moist";
}

function Moisture({ id }) {
  const { data } = useLive(`/api/v1/devices/${encodeURIComponent(id)}/readings?limit=50`, ["device/records"]);
  if (!data) return html`<p class="loading">Loading…</p>`;
  const latest = {};
  for (const r of data.readings) if (r.kind === "soil_moisture" && r.status === "valid" && !(r.sensor in latest)) latest[r.sensor] = r;
  const sensors = Object.values(latest);
  if (sensors.length === 0) return html`<p>No soil reading yet.</p>`;
  return html`<ul class="moisture">${sensors.map((r) => html`<li class=${moistureBand(r.value)}>
    ${r.sensor}: ${r.value.toFixed(2)} m³/m³, ${moistureBand(r.value)}</li>`)}</ul>`;
}

function DeviceTile({ device, alerts }) {
  const zones = [...new Set(alerts.map((a) => a.zone || a.subject || "device"))];
  return html`<li class="tile ${device.status === "active" ? "" : "inactive"} ${alerts.length ? "alerting" : ""}">
    <h4><a href="#/devices/${encodeURIComponent(device.id)}">${device.name || device.id}</a></h4>
    <p><${Badge} value=${device.status} /> <${Badge} value=${device.health} /> seen <${Ago} at=${device.last_seen} /></p>
    <p>${modelLabel(device.current)}</p>
    <${Moisture} id=${device.id} />
    <p>${alerts.length === 0 ? "No open alert." : `${alerts.length} open alert${alerts.length > 1 ? "s" : ""}: ${zones.join(", ")}`}</p>
  </li>`;
}

function FieldPlan({ field, offset }) {
  const query = new URLSearchParams({ group: field, sort: "name", limit: TILES_PER_PAGE, offset });
  const { data, error } = useLive(`/api/v1/devices?${query}`, ["devices", "device/status"]);
  const { data: open } = useLive("/api/v1/alerts?state=open&limit=1000", ["device/records", "alerts"]);
  if (!data || !open) return html`<${Loading} error=${error} />`;
  const alertsOf = (id) => open.alerts.filter((a) => a.device_id === id);
  const next = new URLSearchParams({ field, offset: offset + TILES_PER_PAGE });
  const previous = new URLSearchParams({ field, offset: Math.max(0, offset - TILES_PER_PAGE) });
  return html`
    <p>${data.total} devices${data.total > TILES_PER_PAGE ? `, ${offset + 1}–${Math.min(data.total, offset + TILES_PER_PAGE)} shown` : ""}.
      Soil moisture: below 0.15 m³/m³ dry, below 0.25 moderate, else moist.</p>
    <ul class="plan" aria-label=${`Devices of ${field}`}>
      ${data.devices.map((d) => html`<${DeviceTile} key=${d.id} device=${d} alerts=${alertsOf(d.id)} />`)}
    </ul>
    ${data.total > TILES_PER_PAGE && html`<nav class="pager" aria-label="Pages of the field">
      ${offset > 0 && html`<a href="#/fields?${previous}">Previous</a>`}
      ${offset + TILES_PER_PAGE < data.total && html`<a href="#/fields?${next}">Next</a>`}</nav>`}`;
}

export function FieldsPage({ params }) {
  const { data, error } = useLive("/api/v1/fleet/summary", ["devices"]);
  if (!data) return html`<h2>Fields</h2><${Loading} error=${error} />`;
  const fields = Object.keys(data.by_group).sort();
  const field = params.get("field") ?? fields[0];
  if (!field) return html`<h2>Fields</h2><p>No device has enrolled yet.</p>`;
  return html`<h2>Fields</h2>
    <nav aria-label="Fields"><ul class="tabs">${fields.map((f) => html`<li>
      <a href="#/fields?field=${encodeURIComponent(f)}" aria-current=${f === field ? "page" : undefined}>${f || "(no group)"} (${data.by_group[f]})</a></li>`)}
    </ul></nav>
    <h3>${field || "(no group)"}</h3>
    <${FieldPlan} field=${field} offset=${Number(params.get("offset") ?? 0)} />`;
}
