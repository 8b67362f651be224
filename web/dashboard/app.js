// The dashboard (docs/dashboard.md): sign-in, the navigation, and the page
// the address names (#/devices?q=north, #/deployments/3, #/loop/jobs/7, ...). Pages read
// the API with the person's session and stay live through one event stream.
import { html, render, useState, useEffect, roleAllows } from "./ui.js";
import { currentSession, signIn, signOut } from "/assets/api.js";
import { connectLive } from "./live.js";
import { OverviewPage } from "./pages/overview.js";
import { DevicesPage, DevicePage } from "./pages/devices.js";
import { DeploymentsPage, DeploymentPage } from "./pages/deployments.js";
import { ModelsPage, ModelPage } from "./pages/models.js";
import { FieldsPage } from "./pages/fields.js";
import { LoopPage, LoopDetail } from "./pages/loop.js";
import { AdminPage } from "./pages/admin.js";

const PAGES = [
  { path: "overview", title: "Overview", view: OverviewPage },
  { path: "devices", title: "Devices", view: DevicesPage, detail: DevicePage },
  { path: "fields", title: "Fields", view: FieldsPage },
  { path: "deployments", title: "Deployments", view: DeploymentsPage, detail: DeploymentPage },
  { path: "models", title: "Models", view: ModelsPage, detail: ModelPage },
  { path: "loop", title: "Data and loop", view: LoopPage, detail: LoopDetail },
  { path: "admin", title: "Users and keys", view: AdminPage, least: "admin" },
];

// "#/devices/abc?q=x" -> { page: "devices", id: "abc", params }
function parseHash() {
  const [path, query] = location.hash.replace(/^#\/?/, "").split("?");
  const [page, ...rest] = path.split("/");
  return {
    page: page || "overview",
    id: rest.length ? decodeURIComponent(rest.join("/")) : null,
    params: new URLSearchParams(query ?? ""),
  };
}

function SignIn({ onSignedIn }) {
  const [error, setError] = useState("");
  const submit = async (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    try {
      onSignedIn(await signIn(form.get("user"), form.get("password")));
    } catch (e) {
      setError(e.message);
    }
  };
  return html`<main>
    <form class="sign-in" onSubmit=${submit}>
      <h2>Sign in</h2>
      <label>User name <input name="user" autocomplete="username" required autofocus /></label>
      <label>Password <input name="password" type="password" autocomplete="current-password" required /></label>
      <button type="submit" class="primary">Sign in</button>
      <p class="error" role="alert">${error}</p>
    </form>
  </main>`;
}

function Shell({ session, onSignedOut }) {
  const [route, setRoute] = useState(parseHash());
  const [live, setLive] = useState("connecting");
  useEffect(() => {
    const follow = () => setRoute(parseHash());
    addEventListener("hashchange", follow);
    const disconnect = connectLive(setLive);
    return () => {
      removeEventListener("hashchange", follow);
      disconnect();
    };
  }, []);
  const pages = PAGES.filter((p) => !p.least || roleAllows(session.role, p.least));
  const page = pages.find((p) => p.path === route.page) ?? pages[0];
  const View = route.id && page.detail ? page.detail : page.view;
  useEffect(() => {
    document.title = `${page.title} · Canopy`;
  }, [page]);
  const leave = async () => {
    await signOut();
    onSignedOut();
  };
  return html`
    <header class="bar">
      <h1>Canopy</h1>
      <span class="live" role="status">Updates: ${live}</span>
      <span class="who">${session.user} (${session.role})</span>
      <button type="button" onClick=${leave}>Sign out</button>
    </header>
    <div class="shell">
      <nav class="pages" aria-label="Pages">
        <ul>${pages.map((p) => html`<li>
          <a href="#/${p.path}" aria-current=${p === page ? "page" : undefined}>${p.title}</a></li>`)}
          ${roleAllows(session.role, "labeler") && html`<li><a href="/label/">Labeling</a></li>`}
        </ul>
      </nav>
      <main class="page" id="main">
        <${View} id=${route.id} params=${route.params} role=${session.role} />
      </main>
    </div>`;
}

function App() {
  const [session, setSession] = useState(undefined);
  useEffect(() => {
    currentSession().then(setSession, () => setSession(null));
  }, []);
  if (session === undefined) return html`<p class="loading">Loading…</p>`;
  if (!session) return html`<${SignIn} onSignedIn=${() => currentSession().then(setSession)} />`;
  // A labeler's place is the labeling page.
  if (session.role === "labeler") {
    location.replace("/label/");
    return null;
  }
  return html`<${Shell} session=${session} onSignedOut=${() => setSession(null)} />`;
}

render(html`<${App} />`, document.getElementById("app"));
