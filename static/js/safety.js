// The crisis safety net on every logged-in page: the top bar's count and the tab title, a card per
// journey docked under the top bar that stays until someone acknowledges it (on reload too), the banner
// on its thread, the red marker on its inbox row, and for a new alert an alarm and (when nobody is
// looking) a desktop notification that stays until clicked. The list comes from the API on every
// (re)connect and is kept live by safety.alert, safety.updated and safety.acknowledged.

import { get, post } from "./api.js";
import { formatTime, statusText } from "./format.js";
import { currentJourneyId, onConnect, onEvent, setSafetyTitle } from "./live.js";
import { alarm, desktopAlert, safePath, safetySoundOn } from "./toasts.js";

const open = new Map(); // message_id -> alert, as GET /api/safety-alerts and safety.alert give it
const cards = new Map(); // journey_id -> its card element (kept, so a half-typed note survives updates)
const notices = new Map(); // message_id -> its desktop notification, closed once acknowledged
let loaded = false; // the first answer of the API is in: `open` is the practice's truth from now on

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
  const ids = [...open.values()].filter((alert) => alert.journey_id === journeyId).map((a) => a.message_id);
  drop(ids);
}

// Drop alerts by their message ids, with the desktop notifications that would otherwise stay.
function drop(messageIds) {
  for (const id of messageIds) {
    open.delete(id);
    notices.get(id)?.close();
    notices.delete(id);
  }
  render();
}

// A new alert reaches the person: the alarm (unless they turned it off), and when nobody is looking a
// desktop notification that stays until clicked. Its words are the ePHI-free `plain` ("Safety alert ·
// ML", the pathway): never a name or the text's words. It takes the tag of the same text's ordinary
// "New text" notification, so it replaces that one; it keeps the system's sound only when the page's
// own alarm cannot be heard because the browser still holds the page's audio back (never when the
// person turned the safety sound off).
function raise(alert) {
  pulse(document.getElementById("safety-count"));
  const heard = alarm() || !safetySoundOn();
  const plain = alert.plain || {};
  const shown = desktopAlert({
    title: plain.title || "Safety alert",
    body: plain.body || "",
    url: alert.url,
    tag: `text-${alert.message_id}`,
    persistent: true,
    silent: heard,
  });
  if (shown) notices.set(alert.message_id, shown);
}

// Draw the eye to the top bar's count, which stays in view however far the page is scrolled (the
// cards sit at the top of the page, in its flow).
function pulse(count) {
  if (!count) return;
  count.classList.remove("safety-count-new");
  void count.offsetWidth; // restart the animation for a second alert
  count.classList.add("safety-count-new");
}

// Does the journey have an open alert? null until the list has loaded (the server's row says then).
export function safetyOpen(journeyId) {
  if (!loaded) return null;
  for (const alert of open.values()) if (alert.journey_id === Number(journeyId)) return true;
  return false;
}

// Show or hide an inbox row's red "Safety alert" marker (icon and words, and a red edge).
export function setRowMarker(row, on) {
  const marker = row.querySelector(".journey-safety");
  if (marker) marker.hidden = !on;
  row.classList.toggle("has-safety", Boolean(on));
}

// A form with an optional note and an Acknowledge button, for a card or the banner.
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

// One card for a journey's open alerts.
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
  const details = document.createElement("div");
  details.className = "safety-details small";

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

  card.append(heading, title, snippet, meta, details, form);
  return card;
}

// A line of the details, or nothing when it has no words.
function line(className, text) {
  if (!text) return null;
  const p = document.createElement("p");
  p.className = className;
  p.textContent = text;
  return p;
}

// Why it fired, in staff's words (present only when the practice shows ePHI in popups).
function whyText(why) {
  if (!why) return "";
  const parts = [why.level_label ? `${why.category_label} · ${why.level_label}` : why.category_label];
  if (why.cue) parts.push(`cue “${why.cue}”`);
  if (why.about === "other") parts.push("about someone else");
  if (why.source_label) parts.push(`from ${why.source_label.toLowerCase()}`);
  return `Why: ${parts.filter(Boolean).join(" · ")}`;
}

// How the after-hours safety reply went.
function replyText(alert) {
  if (alert.reply) return `Safety reply: ${statusText({ status: alert.reply.status, error_reason: alert.reply.error })}`;
  return alert.replied ? "Safety reply sent" : "";
}

// How an escalation text went, in words (the escalation worker's states).
const STEP_WORDS = {
  sending: "sending",
  sent: "sent",
  delivered: "delivered",
  failed: "failed",
  ambiguous: "may not have gone (not resent)",
  skipped: "skipped",
};

// One escalation text: whom it went to, how it went (and why not), when.
function escalationText(step) {
  const how = STEP_WORDS[step.status] || step.status || "";
  const parts = [`Step ${step.step}`, step.to, step.error ? `${how}: ${step.error}` : how, formatTime(step.at)];
  return parts.filter(Boolean).join(" · ");
}

// Why the journey's newest alert fired, its safety reply's delivery, and the escalation so far (every
// step of its alerts, and when the next is due); an empty chain shows nothing.
function fillDetails(container, alerts) {
  const newest = alerts[alerts.length - 1];
  const steps = alerts.flatMap((a) => a.escalations || []);
  const next = alerts.map((a) => a.next_escalation_at).filter(Boolean).sort()[0];
  const parts = [line("safety-why", whyText(newest.why)), line("safety-reply", replyText(newest))];
  if (steps.length) {
    parts.push(line("safety-escalation-head", "Escalated by text to on-call staff:"));
    const list = document.createElement("ol");
    list.className = "safety-escalations";
    list.setAttribute("aria-label", "Escalation texts");
    for (const step of steps) {
      const item = document.createElement("li");
      item.className = `safety-escalation step-${step.status}`;
      item.textContent = escalationText(step);
      list.append(item);
    }
    parts.push(list);
  }
  if (next) parts.push(line("safety-next", `Escalates ${formatTime(next)} unless someone acknowledges`));
  container.replaceChildren(...parts.filter(Boolean));
  container.hidden = container.childElementCount === 0;
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
  card.querySelector(".safety-card-meta").textContent =
    alerts.length > 1 ? `${alerts.length} texts, latest ${when}` : when;
  fillDetails(card.querySelector(".safety-details"), alerts);
}

// Bring the count, the cards, this page's banner, the tab title and the inbox rows in line with
// `open`. A thread's own page shows its alert as the banner, not as a card too.
function render() {
  const groups = byJourney();
  const here = currentJourneyId();
  const count = document.getElementById("safety-count");
  if (count) {
    count.hidden = open.size === 0;
    count.textContent = `⚠ ${open.size} safety alert${open.size === 1 ? "" : "s"}`;
    // Opens the thread of the oldest open alert (the cards list the others).
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
    const details = document.getElementById("safety-banner-details");
    if (details && mine.length) fillDetails(details, mine);
  }
  setSafetyTitle(open.size > 0);
  if (loaded) {
    for (const row of document.querySelectorAll(".journey-row[data-journey-id]")) {
      setRowMarker(row, groups.has(Number(row.dataset.journeyId)));
    }
  }
}

// Every (re)connect reloads the list, so nothing missed while offline stays hidden; an alert raised
// while this tab was offline still sounds and notifies.
async function load(isReconnect) {
  try {
    const data = await get("/api/safety-alerts");
    const known = new Set(open.keys());
    open.clear();
    for (const alert of data.alerts) open.set(alert.message_id, alert);
    const fresh = isReconnect && loaded ? data.alerts.filter((alert) => !known.has(alert.message_id)) : [];
    loaded = true;
    drop([...notices.keys()].filter((id) => !open.has(id))); // acknowledged while offline; renders
    for (const alert of fresh) raise(alert);
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
  const fresh = !open.has(alert.message_id);
  open.set(alert.message_id, alert);
  render();
  if (fresh) raise(alert);
});

// The escalation took a step (another engineer's worker): the card shows it, nothing sounds again.
onEvent("safety.updated", (alert) => {
  if (!alert || !open.has(alert.message_id)) return; // acknowledged meanwhile
  open.set(alert.message_id, alert);
  render();
});

onEvent("safety.acknowledged", (payload) => {
  if (payload) drop(payload.message_ids || []);
});

onConnect((isReconnect) => load(isReconnect));
