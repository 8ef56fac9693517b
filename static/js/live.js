// The one Socket.IO connection of a logged-in page: popups, the tab-title counter, session end.
// Other modules import { socket, onEvent, onConnect } from here (ES modules load once per page).

import { goToLogin } from "./api.js";
import { chime, desktopAlert, showToast } from "./toasts.js";

// A do-nothing stand-in so pages still work (without live updates) if the client failed to load.
function offlineSocket() {
  return { connected: false, on() {}, off() {}, emit() {}, connect() {} };
}

export const socket =
  typeof window.io === "function" ? window.io({ transports: ["websocket", "polling"] }) : offlineSocket();

const connectHandlers = [];
let connections = 0;

// Listen to a server event; returns a function that stops listening.
export function onEvent(name, fn) {
  socket.on(name, fn);
  return () => socket.off(name, fn);
}

// Run fn(isReconnect) on every (re)connect, and right away if already connected; returns a function
// that stops it (a thread pane leaving).
export function onConnect(fn) {
  connectHandlers.push(fn);
  if (socket.connected) fn(connections > 1);
  return () => {
    const at = connectHandlers.indexOf(fn);
    if (at >= 0) connectHandlers.splice(at, 1);
  };
}

// The journey this page shows, if any (body or <main> carries data-journey-id).
export function currentJourneyId() {
  const holder = document.querySelector("body[data-journey-id], main[data-journey-id]");
  return holder ? Number(holder.dataset.journeyId) : null;
}

// Emit and wait for the server's acknowledgement (or give up after `ms`).
export function emitWithAck(event, payload, ms = 8000) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ ok: false, error: "timeout" }), ms);
    socket.emit(event, payload, (answer) => {
      clearTimeout(timer);
      resolve(answer || { ok: false });
    });
  });
}

// --- connection state -------------------------------------------------------------------

// Mirror the connection on <body data-socket> (styles and browser tests read it).
function setState(state) {
  document.body.dataset.socket = state;
}

socket.on("connect", () => {
  connections += 1;
  setState("connected");
  for (const fn of [...connectHandlers]) fn(connections > 1);
  // Pages without their own readiness (everything but the workspace and a thread) are ready once live.
  if (!["journey", "inbox"].includes(document.body.dataset.page)) window.__inboxReady = true;
});

socket.on("disconnect", (reason) => {
  setState("disconnected");
  // The server closed us on purpose (logout elsewhere, deactivation): do not sit there stale.
  if (reason === "io server disconnect") checkSession();
});

socket.on("connect_error", (err) => {
  setState("disconnected");
  // Refused: ask the API why rather than guess (an ended login, or a password that must change first).
  if (err && /login/i.test(err.message || "")) checkSession();
});

socket.on("session.ended", () => {
  location.assign("/login");
});

// Ask the API whether the login is still alive; api.js leaves for /login when it is not. A 403 is a
// login that owes a step first (a temporary password to change, a code, a two-factor set-up): the
// answer's `next` names that step's page.
async function checkSession() {
  try {
    const response = await fetch("/api/staff", { credentials: "same-origin" });
    if (response.status === 401) goToLogin();
    else if (response.status === 403) location.assign(await stepPage(response));
    else if (!socket.connected) socket.connect();
  } catch {
    // Offline: Socket.IO keeps trying by itself.
  }
}

// The page of the step a refused login owes (only a local path is followed).
async function stepPage(response) {
  try {
    const { next } = await response.json();
    if (typeof next === "string" && next.startsWith("/") && !next.startsWith("//")) return next;
  } catch {
    // Not JSON: fall back to the oldest step, the temporary password.
  }
  return "/account/password";
}

// --- the tab title: open safety alerts, else the unread counter ------------------------------

const baseTitle = document.title;
let unseen = 0;
let safetyOpen = false;

// "⚠ Safety alert" while any alert waits (it outranks the unread count), else "(3) Intake Inbox"
// while texts arrived that this tab has not shown its user yet.
function drawTitle() {
  if (safetyOpen) document.title = `⚠ Safety alert · ${baseTitle}`;
  else document.title = unseen > 0 ? `(${unseen}) ${baseTitle}` : baseTitle;
}

function setUnseen(count) {
  unseen = count;
  drawTitle();
}

// safety.js says whether any alert of the practice is open (in any tab's view of it).
export function setSafetyTitle(open) {
  safetyOpen = Boolean(open);
  drawTitle();
}

// The user is looking at the tab again: the counter starts over.
function seen() {
  if (document.visibilityState === "visible" && unseen) setUnseen(0);
}

window.addEventListener("focus", seen);
document.addEventListener("visibilitychange", seen);
document.addEventListener("pointerdown", seen, true);
document.addEventListener("keydown", seen, true);

// --- notification popups -------------------------------------------------------------------

// A new inbound text: its journey.updated carries the popup's fields as `notify`.
socket.on("journey.updated", (journey) => {
  const payload = journey?.notify;
  if (!payload) return;
  const here = currentJourneyId() === Number(payload.journey_id);
  const plain = payload.plain || {}; // the ePHI-free words, for the desktop
  desktopAlert({ title: plain.title || "New text", body: plain.body || "", url: payload.url, tag: `text-${payload.message_id}` });
  if (!here) {
    showToast({ title: payload.title, snippet: payload.snippet, url: payload.url });
    chime();
    setUnseen(unseen + 1);
  } else if (document.visibilityState !== "visible") {
    setUnseen(unseen + 1);
  }
});
