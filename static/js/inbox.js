// The inbox list: live rows and, for a new inbound text, unread badges (journey.updated and its
// `notify`), catch-up after a blip.

import { get } from "./api.js";
import { onConnect, onEvent } from "./live.js";
import { refreshTimes } from "./format.js";

const main = document.querySelector("main.inbox");
const list = document.getElementById("journey-list");
const empty = document.getElementById("inbox-empty");
const rowTemplate = document.getElementById("journey-row-template");
const filter = { pathway: main.dataset.pathway || null, state: main.dataset.state || "open" };
// A new text for a journey the list does not show yet: keep its count until the row exists.
const pendingUnread = new Map();
const REFRESH_AFTER_MS = 30000;
let lastRefresh = Date.now();

// Does a journey belong in the list under the active pathway and open/closed filter?
function matches(journey) {
  if (filter.pathway && journey.pathway !== filter.pathway) return false;
  if (filter.state === "open") return Boolean(journey.is_open);
  if (filter.state === "closed") return !journey.is_open;
  return true;
}

// The row of a journey, if the list shows it.
function rowFor(id) {
  return list.querySelector(`.journey-row[data-journey-id="${Number(id)}"]`);
}

// Set a text field of a row (always as text: names and snippets come from patients).
function setText(row, selector, text) {
  const el = row.querySelector(selector);
  if (el) el.textContent = text ?? "";
}

// Write a Journey (API shape) into a row; the unread badge is left alone.
function fillRow(row, j) {
  row.dataset.journeyId = String(j.id);
  row.dataset.pathway = j.pathway;
  row.dataset.open = j.is_open ? "1" : "0";
  const link = row.querySelector(".journey-link");
  link.href = typeof j.url === "string" && j.url.startsWith("/") ? j.url : `/journeys/${Number(j.id)}`;
  setText(row, ".journey-contact", j.contact);
  const badge = row.querySelector(".journey-pathway");
  badge.className = `badge badge-pathway journey-pathway pathway-${j.pathway}`;
  badge.textContent = j.pathway_label || j.pathway;
  setText(row, ".journey-stage", j.stage);
  if (j.snippet != null) setText(row, ".journey-snippet", j.snippet);
  setText(row, ".journey-assignee", j.assignee || "Unassigned");
  row.querySelector(".journey-closed").hidden = Boolean(j.is_open);
  row.querySelector(".journey-optout").hidden = j.consent_state !== "opted_out";
  const time = row.querySelector(".journey-time");
  time.setAttribute("datetime", j.last_activity_at || "");
  refreshTimes(row);
}

// Show a row's unread count (hidden at zero).
function setUnread(row, count) {
  const badge = row.querySelector(".unread");
  const n = Math.max(0, Number(count) || 0);
  badge.textContent = String(n);
  badge.setAttribute("aria-label", `${n} unread`);
  badge.hidden = n === 0;
  row.classList.toggle("has-unread", n > 0);
}

// The unread count a row shows now.
function unreadOf(row) {
  return Number(row.querySelector(".unread").textContent) || 0;
}

// A fresh, empty row from the <template> the server rendered with the same markup.
function newRow() {
  return rowTemplate.content.firstElementChild.cloneNode(true);
}

// Show the "nothing here" line when the list is empty.
function updateEmpty() {
  empty.hidden = list.children.length > 0;
}

// Insert or update a journey's row at the top, or drop it when it no longer fits the filter.
function upsert(journey) {
  let row = rowFor(journey.id);
  if (!matches(journey)) {
    row?.remove();
    updateEmpty();
    return;
  }
  if (!row) {
    row = newRow();
    setUnread(row, pendingUnread.get(journey.id) || 0);
    pendingUnread.delete(journey.id);
  }
  fillRow(row, journey);
  list.prepend(row);
  updateEmpty();
}

// Replace the whole list with the server's current answer (after a reconnect or a long absence).
async function refresh() {
  lastRefresh = Date.now();
  const params = new URLSearchParams({ state: filter.state });
  if (filter.pathway) params.set("pathway", filter.pathway);
  try {
    const { journeys } = await get(`/api/journeys?${params}`);
    const rows = journeys.map((j) => {
      const row = rowFor(j.id) || newRow();
      fillRow(row, j);
      setUnread(row, j.unread);
      return row;
    });
    list.replaceChildren(...rows);
    updateEmpty();
  } catch {
    // Keep what we show; the next reconnect or visit tries again.
  }
}

onEvent("journey.updated", (journey) => {
  // The payload has no per-user unread count: upsert keeps the row's own.
  if (journey && journey.id) upsert(journey);
  if (!journey?.notify) return; // a new inbound text also counts as unread
  const id = Number(journey.notify.journey_id);
  const row = rowFor(id);
  if (row) setUnread(row, unreadOf(row) + 1);
  else pendingUnread.set(id, (pendingUnread.get(id) || 0) + 1);
});

// This user read the thread in another tab or device: its badge clears here too.
onEvent("journey.read", (payload) => {
  const id = Number(payload?.journey_id);
  const row = rowFor(id);
  if (row) setUnread(row, 0);
  pendingUnread.delete(id);
});

onConnect((isReconnect) => {
  if (isReconnect) refresh();
});

// Coming back to a tab that sat in the background: other tabs may have read threads meanwhile.
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible" && Date.now() - lastRefresh > REFRESH_AFTER_MS) refresh();
});

refreshTimes(list);
setInterval(() => refreshTimes(list), 30000);
updateEmpty();
