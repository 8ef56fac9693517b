// The crisis safety net on every logged-in page: the top bar's count of unacknowledged alerts, a popup
// per journey that stays until someone acknowledges it (on reload too), and the banner on its thread.
// The list comes from the API on every (re)connect and is kept live by safety.alert / safety.acknowledged.

import { get, post } from "./api.js";
import { formatTime } from "./format.js";
import { currentJourneyId, onConnect, onEvent } from "./live.js";
import { safePath } from "./toasts.js";

const open = new Map(); // message_id -> alert, as GET /api/safety-alerts and safety.alert give it
const cards = new Map(); // journey_id -> its popup element (kept, so a half-typed note survives updates)

// The open alerts grouped by journey, oldest journey first.
function byJourney() {
  const groups = new Map();
  for (const alert of open.values()) {
    const list = groups.get(alert.journey_id) || [];
    list.push(alert);
    groups.set(alert.journey_id, list);
  }
  return groups;
}

// Acknowledge a journey's alerts; the socket event then clears them in every tab (this one included).
async function acknowledge(journeyId, note, status, button) {
  button.disabled = true;
  status.textContent = "";
  try {
    await post(`/api/journeys/${journeyId}/safety-ack`, note ? { note } : {});
    forget(journeyId);
  } catch (err) {
    if (err.status === 409) forget(journeyId); // someone else acknowledged it first
    else status.textContent = err.message;
  } finally {
    button.disabled = false;
  }
}

// Drop a journey's alerts locally (the server said they are acknowledged).
function forget(journeyId) {
  for (const [id, alert] of open) if (alert.journey_id === journeyId) open.delete(id);
  render();
}

// A form with an optional note and an Acknowledge button, for a popup or the banner.
function wireAckForm(form, journeyId) {
  const status = form.querySelector(".safety-ack-status") || form.appendChild(document.createElement("p"));
  status.className = "safety-ack-status small";
  status.setAttribute("role", "status");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const note = form.elements.note.value.trim();
    acknowledge(journeyId, note, status, form.querySelector("button[type=submit]"));
  });
}

// One popup card for a journey's open alerts.
function newCard(journeyId) {
  const card = document.createElement("article");
  card.className = "safety-card";
  card.dataset.journeyId = String(journeyId);
  card.setAttribute("role", "alertdialog");
  card.setAttribute("aria-label", "Safety alert");

  const heading = document.createElement("p");
  heading.className = "safety-card-kicker";
  heading.textContent = "Safety alert";
  const title = document.createElement("a");
  title.className = "safety-card-title";
  const snippet = document.createElement("p");
  snippet.className = "safety-card-snippet";
  const meta = document.createElement("p");
  meta.className = "safety-card-meta small";

  const form = document.createElement("form");
  form.className = "safety-ack";
  const label = document.createElement("label");
  label.className = "visually-hidden";
  label.htmlFor = `safety-note-${journeyId}`;
  label.textContent = "Note (optional)";
  const note = document.createElement("input");
  note.id = `safety-note-${journeyId}`;
  note.name = "note";
  note.maxLength = 1000;
  note.placeholder = "Note (optional)";
  const button = document.createElement("button");
  button.type = "submit";
  button.className = "btn btn-danger btn-small";
  button.textContent = "Acknowledge";
  form.append(label, note, button);
  wireAckForm(form, journeyId);

  card.append(heading, title, snippet, meta, form);
  return card;
}

// Fill a card with the newest of its journey's alerts.
function fillCard(card, alerts) {
  const newest = alerts[alerts.length - 1];
  const title = card.querySelector(".safety-card-title");
  title.textContent = newest.title || "Safety alert";
  const href = safePath(newest.url);
  if (href) title.href = href;
  card.querySelector(".safety-card-snippet").textContent = newest.snippet || "";
  const when = formatTime(newest.created_at); // in the practice's time zone, as the thread shows it
  const parts = [alerts.length > 1 ? `${alerts.length} texts, latest ${when}` : when];
  if (alerts.some((a) => a.replied)) parts.push("safety reply sent");
  card.querySelector(".safety-card-meta").textContent = parts.join(" · ");
}

// Bring the count, the popups and this page's banner in line with `open`. A thread's own page shows
// its alert as the banner, not as a popup too.
function render() {
  const groups = byJourney();
  const here = currentJourneyId();
  const count = document.getElementById("safety-count");
  if (count) {
    count.hidden = open.size === 0;
    count.textContent = `⚠ ${open.size} safety alert${open.size === 1 ? "" : "s"}`;
    // Opens the thread of the oldest open alert (the popups list the others).
    const first = safePath(open.values().next().value?.url);
    count.href = first || "#safety-alerts";
    document.body.dataset.safetyAlerts = String(open.size);
  }
  const region = document.getElementById("safety-alerts");
  if (region) {
    for (const [journeyId, card] of cards) {
      if (!groups.has(journeyId) || journeyId === here) {
        card.remove();
        cards.delete(journeyId);
      }
    }
    for (const [journeyId, alerts] of groups) {
      if (journeyId === here) continue;
      let card = cards.get(journeyId);
      if (!card) {
        card = newCard(journeyId);
        cards.set(journeyId, card);
        region.append(card);
      }
      fillCard(card, alerts);
    }
    region.hidden = cards.size === 0;
  }
  const banner = document.getElementById("safety-banner");
  if (banner && here !== null) {
    const mine = groups.get(here) || [];
    banner.hidden = mine.length === 0;
    const detail = document.getElementById("safety-banner-detail");
    if (detail && mine.length) {
      detail.textContent = `${mine.length === 1 ? "One text" : `${mine.length} texts`} not acknowledged yet.`;
    }
  }
}

// Every (re)connect reloads the list, so nothing missed while offline stays hidden.
async function load() {
  try {
    const data = await get("/api/safety-alerts");
    open.clear();
    for (const alert of data.alerts) open.set(alert.message_id, alert);
    render();
  } catch {
    // Offline or logged out: the next connect tries again (api.js handles a lost login).
  }
}

// Wire the thread's banner (at load, and each time the workspace opens another thread in its pane).
export function showBanner() {
  const form = document.getElementById("safety-banner-form");
  if (form && currentJourneyId() !== null && !form.dataset.wired) {
    form.dataset.wired = "1";
    wireAckForm(form, currentJourneyId());
  }
  render();
}

showBanner();

onEvent("safety.alert", (alert) => {
  if (!alert) return;
  open.set(alert.message_id, alert);
  render();
});

onEvent("safety.acknowledged", (payload) => {
  if (!payload) return;
  for (const id of payload.message_ids || []) open.delete(id);
  render();
});

onConnect(() => load());
