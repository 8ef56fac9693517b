// Intake Inbox's service worker (served at /sw.js, scope "/"): shows the Web Push alerts the server sends
// to this browser when no Intake Inbox tab is looking (inbox/notify/webpush.py), and opens the journey on
// a click. A push says only "Safety alert" or "You were mentioned": the server never puts patient data in
// one. No fetch handler: pages load exactly as without it.

const FALLBACK = { kind: "mention", title: "Intake Inbox", body: "Open Intake Inbox.", url: "/", tag: "inbox" };

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

// A path of this site (a push can never send a click elsewhere).
function ownPath(url) {
  try {
    const parsed = new URL(url, self.location.origin);
    return parsed.origin === self.location.origin ? parsed.pathname + parsed.search : "/";
  } catch {
    return "/";
  }
}

function read(event) {
  try {
    return { ...FALLBACK, ...(event.data ? event.data.json() : {}) };
  } catch {
    return FALLBACK;
  }
}

self.addEventListener("push", (event) => {
  const data = read(event);
  const safety = data.kind === "safety";
  event.waitUntil(
    self.registration.showNotification(String(data.title), {
      body: String(data.body),
      tag: String(data.tag),
      data: { kind: safety ? "safety" : "mention", url: ownPath(data.url) },
      // A safety alert stays on screen until someone acts on it, and a new one on the same journey
      // sounds again; a mention is an ordinary notification.
      requireInteraction: safety,
      renotify: safety,
    }),
  );
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = new URL((event.notification.data && event.notification.data.url) || "/", self.location.origin).href;
  event.waitUntil(
    (async () => {
      const tabs = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
      const open = tabs.find((tab) => tab.url === url);
      // A tab already on that journey comes forward; otherwise a new one opens, so that a reply being
      // written in another tab is never navigated away from.
      if (open) return open.focus();
      return self.clients.openWindow(url);
    })(),
  );
});
