// Models: every model with its versions and aliases; one model in full: its
// versions with their metrics and lineage, each alias's history, and two
// versions side by side. One version's lineage is in lineage.js.
import { html, useState, useLive, Loading, Ago } from "../ui.js";
import { VersionPage } from "./lineage.js";

const TOPICS = ["models"];

export function ModelsPage() {
  const { data, error } = useLive("/api/v1/models", TOPICS);
  if (!data) return html`<h2>Models</h2><${Loading} error=${error} />`;
  return html`<h2>Models</h2>
    ${data.models.length === 0 ? html`<p>No model has been uploaded yet.</p>` : html`
    <table class="list"><thead><tr><th scope="col">Model</th><th scope="col">Versions</th><th scope="col">Latest</th>
      <th scope="col">Aliases</th><th scope="col">Updated</th></tr></thead>
    <tbody>${data.models.map((m) => html`<tr><td><a href="#/models/${encodeURIComponent(m.name)}">${m.name}</a></td>
      <td>${m.versions}</td><td>${m.latest_version}</td>
      <td>${Object.entries(m.aliases).map(([alias, v]) => `${alias} → ${v}`).join(", ") || "—"}</td>
      <td><${Ago} at=${m.updated_at} /></td></tr>`)}</tbody></table>`}`;
}

// The numbers worth comparing: a version's metrics, flattened ("map50", "int8.size_bytes").
function flatMetrics(metrics, prefix = "") {
  const out = {};
  for (const [key, value] of Object.entries(metrics ?? {})) {
    if (typeof value === "number") out[prefix + key] = value;
    else if (value && typeof value === "object" && !Array.isArray(value)) Object.assign(out, flatMetrics(value, `${prefix}${key}.`));
  }
  return out;
}

function format(value) {
  return value === undefined ? "—" : Number.isInteger(value) ? String(value) : value.toFixed(4);
}

function Compare({ model, versions }) {
  const [a, setA] = useState(versions.length > 1 ? versions[1].version : versions[0].version);
  const [b, setB] = useState(versions[0].version);
  const va = versions.find((v) => v.version === Number(a));
  const vb = versions.find((v) => v.version === Number(b));
  if (!va || !vb) return null;
  const ma = flatMetrics(va.metrics);
  const mb = flatMetrics(vb.metrics);
  const keys = [...new Set([...Object.keys(ma), ...Object.keys(mb)])].sort();
  const pick = (value, set, label) => html`<label>${label} <select value=${value} onChange=${(e) => set(e.target.value)}>
    ${versions.map((v) => html`<option value=${v.version}>${v.version}</option>`)}</select></label>`;
  return html`<section aria-labelledby="compare"><h3 id="compare">Compare two versions of ${model}</h3>
    <div class="filters">${pick(a, setA, "Version")}${pick(b, setB, "with version")}</div>
    <table class="list"><thead><tr><th scope="col">Measure</th><th scope="col">${va.version}</th><th scope="col">${vb.version}</th><th scope="col">Change</th></tr></thead>
    <tbody>
      <tr><td>Package size (bytes)</td><td>${va.size_bytes}</td><td>${vb.size_bytes}</td><td>${vb.size_bytes - va.size_bytes}</td></tr>
      <tr><td>Pipeline run</td><td>${va.lineage?.pipeline_run ?? "—"}</td><td>${vb.lineage?.pipeline_run ?? "—"}</td><td></td></tr>
      ${keys.map((k) => html`<tr><td>${k}</td><td>${format(ma[k])}</td><td>${format(mb[k])}</td>
        <td>${ma[k] !== undefined && mb[k] !== undefined ? format(mb[k] - ma[k]) : ""}</td></tr>`)}
    </tbody></table></section>`;
}

function AliasHistory({ model, alias }) {
  const { data } = useLive(`/api/v1/models/${encodeURIComponent(model)}/aliases/${encodeURIComponent(alias)}/history`, TOPICS);
  if (!data) return html`<${Loading} />`;
  return html`<ol>${data.history.map((h) => html`<li>${h.version === null ? "removed" : `→ ${h.version}`},
    <${Ago} at=${h.changed_at} /> by ${h.changed_by}</li>`)}</ol>`;
}

// #/models/NAME, or #/models/NAME/versions/3 for one version's lineage.
export function ModelPage({ id }) {
  const [name, part, version] = id.split("/");
  if (part === "versions" && version) return html`<${VersionPage} model=${name} version=${version} />`;
  return html`<${Model} name=${name} />`;
}

function Model({ name }) {
  const { data, error } = useLive(`/api/v1/models/${encodeURIComponent(name)}`, TOPICS);
  if (!data) return html`<h2>Model ${name}</h2><${Loading} error=${error} />`;
  const versions = [...data.versions].sort((x, y) => y.version - x.version);
  return html`<h2>Model ${data.name}</h2>
    <p><a href="#/models">All models</a></p>
    <section aria-labelledby="versions"><h3 id="versions">Versions</h3>
      <table class="list"><thead><tr><th scope="col">Version</th><th scope="col">Aliases</th><th scope="col">Created</th>
        <th scope="col">Size</th><th scope="col">Signed by</th><th scope="col">Lineage</th></tr></thead>
      <tbody>${versions.map((v) => html`<tr><td><a href="#/models/${encodeURIComponent(data.name)}/versions/${v.version}">${v.version}</a></td><td>${v.aliases.join(", ") || "—"}</td>
        <td><${Ago} at=${v.created_at} /></td><td>${(v.size_bytes / 1024).toFixed(0)} KiB</td><td>${v.signed_by}</td>
        <td>${v.lineage?.pipeline_run ? html`run <a href="#/loop/runs/${encodeURIComponent(v.lineage.pipeline_run)}">${v.lineage.pipeline_run}</a>` : "—"}${v.lineage?.dataset ? `, dataset ${v.lineage.dataset}` : ""}</td></tr>`)}
      </tbody></table></section>
    <section aria-labelledby="aliases"><h3 id="aliases">Aliases and their history</h3>
      ${Object.keys(data.aliases).length === 0 ? html`<p>No alias.</p>` : Object.keys(data.aliases).map((alias) => html`
        <h4>${alias} → ${data.aliases[alias]}</h4><${AliasHistory} model=${data.name} alias=${alias} />`)}</section>
    ${versions.length > 0 && html`<${Compare} model=${data.name} versions=${versions} />`}`;
}
