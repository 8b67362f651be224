// The server's API as the web pages use it: same origin, the session
// cookie sent by the browser, and the session's CSRF token in a header on
// every change. Errors carry the server's message (docs/api.md).

let csrfToken = "";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function call(method, path, body) {
  const headers = {};
  if (method !== "GET") headers["X-CSRF-Token"] = csrfToken;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
  });
  const text = await response.text();
  const json = text ? JSON.parse(text) : {};
  if (!response.ok) {
    const error = json.error || {};
    throw new ApiError(response.status, error.code || "error", error.message || `HTTP ${response.status}`);
  }
  return json;
}

export const api = {
  get: (path) => call("GET", path),
  post: (path, body = {}) => call("POST", path, body),
  patch: (path, body = {}) => call("PATCH", path, body),
  del: (path) => call("DELETE", path),
};

// The session of this browser, or null when nobody is signed in.
export async function currentSession() {
  const session = await api.get("/api/v1/session");
  if (!session.signed_in) return null;
  csrfToken = session.csrf_token;
  return session;
}

export async function signIn(user, password) {
  const session = await api.post("/api/v1/session", { user, password });
  csrfToken = session.csrf_token;
  return session;
}

export async function signOut() {
  await api.del("/api/v1/session");
  csrfToken = "";
}
