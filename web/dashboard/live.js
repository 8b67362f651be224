// Live updates (docs/dashboard.md): one Server-Sent Events stream per tab
// names what changed; the views that show it read it again. When the server
// refuses a stream (every one is taken) or the browser loses it for good,
// the tab polls the same feed instead.

const listeners = new Set();
let lastId = null;
let pollTimer = null;

const POLL_MS = 5000;

function deliver(change) {
  for (const listener of listeners) listener(change);
}

function startPolling(onState) {
  if (pollTimer) return;
  const poll = async () => {
    const response = await fetch(`/api/v1/events?after=${lastId ?? 0}`, { credentials: "same-origin" });
    // Signed out, or the session expired: nothing more to follow.
    if (response.status === 401 || response.status === 403) return onState("stopped");
    if (response.ok) {
      const body = await response.json();
      if (body.reset) deliver({ topic: "*" });
      for (const event of body.events) deliver(event);
      lastId = body.last_id;
    }
    pollTimer = setTimeout(poll, POLL_MS);
  };
  pollTimer = setTimeout(poll, 0);
}

// Follows the change feed until the returned function is called (signing out).
export function connectLive(onState) {
  const source = new EventSource("/api/v1/events");
  source.addEventListener("open", () => onState("live"));
  source.addEventListener("change", (message) => {
    lastId = Number(message.lastEventId);
    deliver(JSON.parse(message.data));
  });
  // Events were lost (the server restarted): every view reads again.
  source.addEventListener("reset", (message) => {
    lastId = Number(message.lastEventId);
    deliver({ topic: "*" });
  });
  source.addEventListener("error", () => {
    if (source.readyState !== EventSource.CLOSED) return onState("reconnecting");
    onState("polling");
    startPolling(onState);
  });
  return () => {
    source.close();
    clearTimeout(pollTimer);
    pollTimer = null;
  };
}

// Calls `listener` with each change whose topic is in `topics`; returns the unsubscribe.
export function onChange(topics, listener) {
  const wrapped = (change) => {
    if (change.topic === "*" || topics.includes(change.topic)) listener(change);
  };
  listeners.add(wrapped);
  return () => listeners.delete(wrapped);
}
