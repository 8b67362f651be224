// Lineage, both ways: a model version back through the jobs, runs, datasets
// and versions it came from, with the samples, devices and people behind
// it and the devices running it now; a sample forward into the datasets
// that hold it and the models trained on them.
import { html, useState, useEffect, useLive, api, Loading, Counts, versionLink } from "../ui.js";

const SHOWN_SAMPLES = 100;

// The versions `lineage` descends from, nearest first, each with its own
// lineage; stops at a version no job made (an upload of its own).
function useAncestors(lineage) {
  const [ancestors, setAncestors] = useState([]);
  useEffect(() => {
    let cancelled = false;
    (async () => {
      const found = [];
      for (let parent = lineage?.parent; parent && found.length < 20; ) {
        const [model, version] = parent.split(":");
        try {
          const next = await api.get(`/api/v1/lineage/models/${encodeURIComponent(model)}/versions/${version}`);
          found.push(next);
          parent = next.parent;
        } catch {
          break;
        }
      }
      if (!cancelled) setAncestors(found);
    })();
    return () => {
      cancelled = true;
    };
  }, [lineage?.model, lineage?.version, lineage?.parent]);
  return ancestors;
}

function Origin({ lineage }) {
  if (!lineage.run) return html`uploaded without a pipeline run`;
  return html`run <a href="#/loop/runs/${encodeURIComponent(lineage.run)}">${lineage.run}</a>${lineage.job !== null
    ? html` of <a href="#/loop/jobs/${lineage.job}">retrain job ${lineage.job}</a> (${lineage.reason}), trained on ${lineage.dataset}`
    : ""}`;
}

function Running({ model, version }) {
  const path = `/api/v1/devices?${new URLSearchParams({ model: `${model}:${version}`, limit: 50, sort: "id" })}`;
  const { data, error } = useLive(path, ["devices", "device/status"]);
  if (!data) return html`<${Loading} error=${error} />`;
  if (data.total === 0) return html`<p>No device runs it.</p>`;
  return html`<p>${data.total} ${data.total === 1 ? "device runs" : "devices run"} it${data.total > data.devices.length
    ? `; the first ${data.devices.length}:` : ":"}</p>
    <ul class="inline">${data.devices.map((d) => html`<li><a href="#/devices/${encodeURIComponent(d.id)}">${d.name || d.id}</a></li>`)}</ul>`;
}

export function VersionPage({ model, version }) {
  const { data: lineage, error } = useLive(
    `/api/v1/lineage/models/${encodeURIComponent(model)}/versions/${encodeURIComponent(version)}`, ["models", "retrain"]);
  const ancestors = useAncestors(lineage);
  const title = html`<h2>${model}:${version}</h2><p><a href="#/models/${encodeURIComponent(model)}">All versions of ${model}</a></p>`;
  if (!lineage) return html`${title}<${Loading} error=${error} />`;
  const samples = lineage.samples ?? [];
  return html`${title}
    <section aria-labelledby="origin"><h3 id="origin">Where it came from</h3>
      <p>${model}:${version}: <${Origin} lineage=${lineage} />.</p>
      ${ancestors.length > 0 && html`<ol class="ancestry" aria-label="Earlier versions, nearest first">
        ${ancestors.map((a) => html`<li>${versionLink(a.model, a.version)}: <${Origin} lineage=${a} /></li>`)}</ol>`}
      ${lineage.parent && html`<p>Trained from ${versionLink(lineage.parent)}, production when the job was queued.</p>`}
    </section>
    ${lineage.job !== null && html`
    <section aria-labelledby="data"><h3 id="data">Its training data: ${lineage.dataset}</h3>
      <div class="cards">
        <section class="card" aria-labelledby="by-device"><h4 id="by-device">Samples by device</h4><${Counts} counts=${lineage.devices}
          link=${(id) => `#/devices/${encodeURIComponent(id)}`} /></section>
        <section class="card" aria-labelledby="by-labeler"><h4 id="by-labeler">Samples by labeler</h4><${Counts} counts=${lineage.labelers} /></section>
      </div>
      <table class="list"><caption>${samples.length} samples${samples.length > SHOWN_SAMPLES ? `, the first ${SHOWN_SAMPLES} shown` : ""}</caption>
        <thead><tr><th scope="col">Sample</th><th scope="col">Device</th><th scope="col">Split</th></tr></thead>
        <tbody>${samples.slice(0, SHOWN_SAMPLES).map((s) => html`<tr>
          <td><a href="#/loop/samples/${encodeURIComponent(s.sample_id)}">${s.sample_id}</a></td><td>${s.device_id || "—"}</td><td>${s.split}</td></tr>`)}
        </tbody></table></section>`}
    <section aria-labelledby="running"><h3 id="running">Where it runs</h3><${Running} model=${model} version=${version} /></section>`;
}

export function SamplePage({ id }) {
  const { data, error } = useLive(`/api/v1/lineage/samples/${encodeURIComponent(id)}`, ["datasets", "retrain"]);
  const title = html`<h2>Sample ${id}</h2><p><a href="#/loop">Data and loop</a></p>`;
  if (!data) return html`${title}<${Loading} error=${error} />`;
  return html`${title}
    <section aria-labelledby="in-datasets"><h3 id="in-datasets">Dataset versions that hold it</h3>
      ${data.datasets.length === 0 ? html`<p>None yet.</p>` : html`<ul>${data.datasets.map((d) => html`<li>${d}</li>`)}</ul>`}</section>
    <section aria-labelledby="in-models"><h3 id="in-models">Models trained on it</h3>
      ${data.models.length === 0 ? html`<p>None yet.</p>` : html`
      <table class="list"><thead><tr><th scope="col">Version</th><th scope="col">Job</th><th scope="col">Dataset</th><th scope="col">Devices running it</th></tr></thead>
      <tbody>${data.models.map((m) => html`<tr><td>${versionLink(m.model, m.version)}</td>
        <td><a href="#/loop/jobs/${m.job}">${m.job}</a></td><td>${m.dataset}</td><td>${m.devices_running.length}</td></tr>`)}</tbody></table>`}</section>`;
}
