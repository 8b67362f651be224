// Users and keys (admin): people with their roles and passwords (hashed by
// the server with Argon2id), API keys with their roles and lifetimes, and
// the audit log of every change made through the pages or the API.
import { html, useState, useLive, api, Loading, Ago, Badge, ConfirmButton } from "../ui.js";

const ROLES = ["reader", "labeler", "publisher", "operator", "admin"];
// The change feed's topics of what keys and people change (devices' own reports are no audit entries).
const CHANGED_BY_PEOPLE = ["access", "deployments", "devices", "models", "labeling", "datasets", "retrain", "runs", "alerts"];

function RoleSelect({ value, onChange, label }) {
  return html`<select aria-label=${label} value=${value} onChange=${(e) => onChange(e.target.value)}>
    ${ROLES.map((r) => html`<option value=${r}>${r}</option>`)}</select>`;
}

function Users() {
  const { data, error, reload } = useLive("/api/v1/users", ["access"]);
  const [message, setMessage] = useState("");
  const add = async (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    try {
      await api.post("/api/v1/users", { name: form.get("name"), role: form.get("role"), password: form.get("password") });
      event.target.reset();
      setMessage(`Added ${form.get("name")}.`);
      reload();
    } catch (e) {
      setMessage(e.message);
    }
  };
  const setRole = async (name, role) => {
    try {
      await api.patch(`/api/v1/users/${encodeURIComponent(name)}`, { role });
      setMessage(`${name} is now ${role}; their sessions ended.`);
      reload();
    } catch (e) {
      setMessage(e.message);
    }
  };
  if (!data) return html`<${Loading} error=${error} />`;
  return html`
    <table class="list"><thead><tr><th scope="col">User</th><th scope="col">Role</th><th scope="col">Since</th><th scope="col">Remove</th></tr></thead>
    <tbody>${data.users.map((u) => html`<tr><td>${u.name}</td>
      <td><${RoleSelect} label=${`Role of ${u.name}`} value=${u.role} onChange=${(role) => setRole(u.name, role)} /></td>
      <td><${Ago} at=${u.created_at} /></td>
      <td><${ConfirmButton} label=${`Remove ${u.name}`} danger question=${`Remove ${u.name}? Their sessions end now.`}
        onConfirm=${async () => { await api.del(`/api/v1/users/${encodeURIComponent(u.name)}`); reload(); }} /></td></tr>`)}
    </tbody></table>
    <form class="filters" onSubmit=${add} aria-label="Add a user">
      <label>Name <input name="name" required autocomplete="off" /></label>
      <label>Role <select name="role">${ROLES.map((r) => html`<option value=${r}>${r}</option>`)}</select></label>
      <label>Password <input name="password" type="password" required minlength="8" autocomplete="new-password" /></label>
      <button type="submit" class="primary">Add user</button>
    </form>
    <p role="status">${message}</p>`;
}

function Keys() {
  const { data, error, reload } = useLive("/api/v1/keys", ["access"]);
  const [created, setCreated] = useState(null);
  const [message, setMessage] = useState("");
  const create = async (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    const days = Number(form.get("days") || 0);
    try {
      setCreated(await api.post("/api/v1/keys", { name: form.get("name"), role: form.get("role"), expires_in_s: days * 86400 }));
      event.target.reset();
      reload();
    } catch (e) {
      setMessage(e.message);
    }
  };
  if (!data) return html`<${Loading} error=${error} />`;
  return html`
    <table class="list"><thead><tr><th scope="col">Key</th><th scope="col">Name</th><th scope="col">Role</th>
      <th scope="col">Created</th><th scope="col">Expires</th><th scope="col">State</th><th scope="col">Revoke</th></tr></thead>
    <tbody>${data.keys.map((k) => html`<tr><td>${k.id}</td><td>${k.name}</td><td>${k.role}</td><td><${Ago} at=${k.created_at} /></td>
      <td>${k.expires_at ?? "never"}</td><td><${Badge} value=${k.revoked ? "revoked" : k.expired ? "expired" : "active"} /></td>
      <td>${!k.revoked && html`<${ConfirmButton} label=${`Revoke ${k.id}`} danger question=${`Revoke key ${k.id} (${k.name})? Whatever uses it stops working now.`}
        onConfirm=${async () => { await api.del(`/api/v1/keys/${k.id}`); reload(); }} />`}</td></tr>`)}
    </tbody></table>
    <form class="filters" onSubmit=${create} aria-label="Create an API key">
      <label>Name <input name="name" required autocomplete="off" /></label>
      <label>Role <select name="role">${ROLES.map((r) => html`<option value=${r}>${r}</option>`)}</select></label>
      <label>Expires in days (0: never) <input name="days" type="number" min="0" max="3650" value="90" /></label>
      <button type="submit" class="primary">Create key</button>
    </form>
    ${created && html`<p role="status">Key ${created.id} made. Copy it now; it is never shown again: <code>${created.key}</code></p>`}
    <p role="status">${message}</p>`;
}

// The audit log, newest first, a page at a time, filtered by who made the change.
function Audit() {
  const [actor, setActor] = useState("");
  const [before, setBefore] = useState([]);  // the ids each older page starts before
  const query = new URLSearchParams({ limit: 50 });
  if (actor) query.set("actor", actor);
  if (before.length) query.set("before", before[before.length - 1]);
  // The newest page follows every change people make; an older one stays put.
  const { data, error } = useLive(`/api/v1/audit?${query}`, before.length ? [] : CHANGED_BY_PEOPLE);
  if (!data) return html`<${Loading} error=${error} />`;
  const entries = data.entries;
  return html`
    <form class="filters" role="search" onSubmit=${(e) => e.preventDefault()}>
      <label>Made by <input value=${actor} placeholder="user or key name" onChange=${(e) => { setActor(e.target.value); setBefore([]); }} /></label>
    </form>
    <table class="list" id="audit-log"><thead><tr><th scope="col">When</th><th scope="col">Who</th><th scope="col">Role</th>
      <th scope="col">Change</th><th scope="col">Status</th></tr></thead>
    <tbody>${entries.map((e) => html`<tr><td><${Ago} at=${e.at} /></td><td>${e.actor}</td><td>${e.role}</td>
      <td><code>${e.method} ${e.path}</code></td><td>${e.status}</td></tr>`)}</tbody></table>
    <nav class="pager" aria-label="Pages of the audit log">
      <button type="button" disabled=${before.length === 0} onClick=${() => setBefore(before.slice(0, -1))}>Newer</button>
      <button type="button" disabled=${entries.length < 50}
        onClick=${() => setBefore([...before, entries[entries.length - 1].id])}>Older</button>
    </nav>`;
}

export function AdminPage() {
  return html`<h2>Users and keys</h2>
    <section aria-labelledby="users"><h3 id="users">Users</h3><${Users} /></section>
    <section aria-labelledby="keys"><h3 id="keys">API keys</h3><${Keys} /></section>
    <section aria-labelledby="audit"><h3 id="audit">Audit log</h3><${Audit} /></section>`;
}
