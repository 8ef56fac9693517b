// The inbox list of the workspace: live rows and, for a new inbound text, unread badges (journey.updated
// and its `notify`), the filter tabs and their counts, catch-up after a blip. panes.js opens threads
// beside it; search.js and keys.js add the search box and the shortcuts.

import { get } from "./api.js";
import { onConnect, onEvent } from "./live.js";
import { debounce, refreshTimes } from "./format.js";
import { safetyOpen, setRowMarker } from "./safety.js";


const workspace = document.getElementById("workspace");
const list = document.getElementById("journey-list");
const empty = document.getElementById("inbox-empty");
const rowTemplate = document.getElementById("journey-row-template");
const me = Number(workspace.dataset.userId);
const VIEWS = ["waiting", "mine", "unassigned", "snoozed"]; // snoozed: only journeys snoozed for now
// A new text for a journey the list does not show yet: keep its count until the row exists.
const pendingUnread = new Map();
const REFRESH_AFTER_MS = 30000;
let lastRefresh = Date.now();

// The list's filter, as the URL's query string says it (never ePHI: no search words live here).
export const filter = readFilter(location.search);

// A filter from a query string: pathway, open/closed state and the three combinable views.
function readFilter(search) {
  const params = new URLSearchParams(search);
  const read = { pathway: params.get("pathway") || null, state: params.get("state") || "open" };
  for (const view of VIEWS) read[view] = params.get(view) === "1";
  return read;
}

// The query string of a filter ("" for the default view), for the URL and the API alike.
export function filterQuery(f = filter) {
  const params = new URLSearchParams();
  if (f.pathway) params.set("pathway", f.pathway);
  if (f.state !== "open") params.set("state", f.state);
  for (const view of VIEWS) if (f[view]) params.set(view, "1");
  const text = params.toString();
  return text ? `?${text}` : "";
}

// Does a journey belong in the list under the active filter? `row` holds what a push leaves out.
function matches(journey, row) {
  if (filter.pathway && journey.pathway !== filter.pathway) return false;
  if (filter.state === "open" && !journey.is_open) return false;
  if (filter.state === "closed" && journey.is_open) return false;
  if (filter.mine && journey.assignee_id !== me) return false;
  if (filter.unassigned && journey.assignee_id != null) return false;
  if (filter.waiting) {
    const waiting = journey.waiting ?? (row ? row.dataset.waiting === "1" : false);
    if (!waiting) return false;
  }
  return isSnoozed(journey) === filter.snoozed; // a snoozed journey is out of every other view
}

// Is the journey snoozed right now (its snooze not yet over)?
function isSnoozed(journey) {
  return Boolean(journey.snoozed_until) && Date.parse(journey.snoozed_until) > Date.now();
}

// The row of a journey, if the list shows it.
export function rowFor(id) {
  return list.querySelector(`.journey-row[data-journey-id="${Number(id)}"]`);
}

// Set a text field of a row (always as text: names and snippets come from patients).
function setText(row, selector, text) {
  const el = row.querySelector(selector);
  if (el) el.textContent = text ?? "";
}

// "You: ", "Auto: ", "Sam: " before the snippet; nothing before the contact's own words.
function fromLabel(j) {
  if (j.last_from === "auto") return "Auto: ";
  if (j.last_from === "staff") return j.last_author_id === me ? "You: " : `${j.last_author || "Staff"}: `;
  return "";
}

const CHIP_WORDS = { red: "opted out", amber: "no consent yet", green: "texting allowed" };

// Colour a row's consent chip (the server's rule: Contact.consent_colour).
function setChip(row, colour) {
  const chip = row.querySelector(".journey-consent");
  const known = CHIP_WORDS[colour] ? colour : "amber";
  chip.className = `consent-chip journey-consent chip-${known}`;
  chip.title = `Text consent: ${CHIP_WORDS[known]}`;
  chip.setAttribute("aria-label", chip.title);
}

// Write a Journey (API shape) into a row; the unread badge is left alone.
export function fillRow(row, j) {
  row.dataset.journeyId = String(j.id);
  row.dataset.contactId = String(j.contact_id);
  row.dataset.pathway = j.pathway;
  row.dataset.open = j.is_open ? "1" : "0";
  row.dataset.assigneeId = j.assignee_id == null ? "" : String(j.assignee_id);
  if (j.waiting != null) row.dataset.waiting = j.waiting ? "1" : "0";
  const link = row.querySelector(".journey-link");
  link.href = `/journeys/${Number(j.id)}`;
  setText(row, ".journey-contact", j.contact);
  const badge = row.querySelector(".journey-pathway");
  badge.className = `badge badge-pathway journey-pathway pathway-${j.pathway}`;
  badge.textContent = j.pathway_label || j.pathway;
  setText(row, ".journey-stage", j.stage);
  if (j.snippet != null) {
    setText(row, ".journey-snippet-text", j.snippet);
    setText(row, ".journey-from", fromLabel(j));
  }
  setChip(row, j.consent_colour);
  setText(row, ".journey-assignee", j.assignee || "Unassigned");
  row.querySelector(".journey-closed").hidden = Boolean(j.is_open);
  row.querySelector(".journey-optout").hidden = j.consent_state !== "opted_out";
  // The live alert list wins once loaded; before that the server's answer (null in a push: keep it).
  const flagged = safetyOpen(j.id) ?? j.safety_open;
  if (flagged != null) setRowMarker(row, flagged);
  const snoozed = row.querySelector(".journey-snoozed");
  snoozed.hidden = !isSnoozed(j);
  snoozed.dataset.until = j.snoozed_until || "";
  const time = row.querySelector(".journey-time");
  time.setAttribute("datetime", j.last_activity_at || "");
  refreshTimes(row);
}

// Show a row's unread count (hidden at zero; the row is bold while it has any).
export function setUnread(row, count) {
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
export function newRow() {
  return rowTemplate.content.firstElementChild.cloneNode(true);
}

// Show the "nothing here" line when the list is empty.
function updateEmpty() {
  empty.hidden = list.children.length > 0;
}

// Insert or update a journey's row at the top, or drop it when it no longer fits the filter.
function upsert(journey) {
  let row = rowFor(journey.id);
  if (!matches(journey, row)) {
    row?.remove();
    updateEmpty();
    return;
  }
  const isNew = !row;
  if (!row) {
    row = newRow();
    setUnread(row, pendingUnread.get(journey.id) || 0);
    pendingUnread.delete(journey.id);
  }
  fillRow(row, journey);
  // Only newer activity moves a row up: an assignment or a close keeps the list still under the cursor.
  if (isNew || journey.snippet != null) list.prepend(row);
  markCurrent();
  updateEmpty();
}

// The open thread's row reads as selected.
export function markCurrent() {
  const current = Number(workspace.dataset.journeyId) || null;
  for (const row of list.querySelectorAll(".journey-row")) {
    const link = row.querySelector(".journey-link");
    if (Number(row.dataset.journeyId) === current) link.setAttribute("aria-current", "true");
    else link.removeAttribute("aria-current");
  }
}

// Replace the whole list with the server's current answer (a new filter, a reconnect, a long absence).
export async function refresh() {
  lastRefresh = Date.now();
  refreshCounts();
  try {
    const { journeys } = await get(`/api/journeys${filterQuery() || "?"}`);
    const rows = journeys.map((j) => {
      const row = rowFor(j.id) || newRow();
      fillRow(row, j);
      setUnread(row, j.unread);
      return row;
    });
    list.replaceChildren(...rows);
    markCurrent();
    updateEmpty();
    list.dataset.loaded = filterQuery();
  } catch {
    // Keep what we show; the next reconnect or visit tries again.
  }
}

// --- filter tabs and their counts -----------------------------------------------------------

// The counts on the tabs, for the pathway and open/closed filter in force.
async function loadCounts() {
  const params = new URLSearchParams();
  if (filter.pathway) params.set("pathway", filter.pathway);
  params.set("state", filter.state);
  try {
    const { counts } = await get(`/api/journeys/counts?${params}`);
    for (const [name, n] of Object.entries(counts)) {
      const el = workspace.querySelector(`[data-count="${name}"]`);
      if (el) el.textContent = String(n);
    }
  } catch {
    // The tabs keep their last counts.
  }
}
export const refreshCounts = debounce(loadCounts, 400);

// What clicking a tab changes in the filter.
function tabChange(link) {
  const kind = link.dataset.filter;
  const target = readFilter(new URL(link.href, location.origin).search);
  if (kind === "all") return { waiting: false, mine: false, unassigned: false, snoozed: false };
  if (kind === "snoozed") return { snoozed: !filter.snoozed };
  if (kind === "waiting") return { waiting: !filter.waiting };
  if (kind === "mine") return { mine: !filter.mine, unassigned: false };
  if (kind === "unassigned") return { unassigned: !filter.unassigned, mine: false };
  if (kind === "pathway") return { pathway: target.pathway };
  return { state: target.state, snoozed: false };
}

// Draw the tabs for the filter in force: which are on, and where each leads from here.
function drawTabs() {
  const anyView = VIEWS.some((view) => filter[view]);
  for (const link of workspace.querySelectorAll("[data-filter]")) {
    const kind = link.dataset.filter;
    const target = readFilter(new URL(link.href, location.origin).search);
    let on;
    if (kind === "all") on = !anyView;
    else if (VIEWS.includes(kind)) on = filter[kind];
    else if (kind === "pathway") on = target.pathway === filter.pathway;
    else on = target.state === filter.state && !filter.snoozed;
    if (on) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
    const next = { ...filter, ...tabChange(link) };
    link.href = `${location.pathname}${filterQuery(next)}`;
  }
}

// Apply a new filter: the URL (same path: the open thread stays), the tabs, the list and the counts.
export function setFilter(changes, { push = true } = {}) {
  Object.assign(filter, changes);
  if (push) history.pushState(history.state, "", `${location.pathname}${filterQuery()}`);
  drawTabs();
  return refresh();
}

// Back/forward changed the query string: follow it.
export function followLocation() {
  const next = readFilter(location.search);
  const changed = Object.keys(next).some((key) => next[key] !== filter[key]);
  if (changed) setFilter(next, { push: false });
  else drawTabs();
}

workspace.querySelector(".inbox-head").addEventListener("click", (event) => {
  const link = event.target.closest("a[data-filter]");
  if (!link || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
  event.preventDefault();
  setFilter(tabChange(link));
});

// --- live ------------------------------------------------------------------------------------

onEvent("journey.updated", (journey) => {
  // The payload has no per-user unread count: upsert keeps the row's own.
  if (journey && journey.id) upsert(journey);
  refreshCounts();
  if (!journey?.notify) return; // a new inbound text also counts as unread
  const id = Number(journey.notify.journey_id);
  if (id === Number(workspace.dataset.journeyId) && document.visibilityState === "visible") return;
  const row = rowFor(id);
  if (row) setUnread(row, unreadOf(row) + 1);
  else pendingUnread.set(id, (pendingUnread.get(id) || 0) + 1);
});

// Staff named or corrected a contact in some tab: every row of theirs reads the new name.
onEvent("contact.updated", (contact) => {
  if (!contact || !contact.id) return;
  for (const row of list.querySelectorAll(`.journey-row[data-contact-id="${Number(contact.id)}"]`)) {
    setText(row, ".journey-contact", contact.name || contact.phone);
  }
});

// This user marked a thread unread (here or in another tab): its badge comes back.
onEvent("journey.unread", (payload) => {
  const row = rowFor(Number(payload?.journey_id));
  if (row) setUnread(row, payload.unread);
});

// This user read the thread in another tab or device: its badge clears here too.
onEvent("journey.read", (payload) => {
  const id = Number(payload?.journey_id);
  const row = rowFor(id);
  if (row) setUnread(row, 0);
  pendingUnread.delete(id);
});

// A consent change recolours every row of that contact.
onEvent("consent.changed", (payload) => {
  if (!payload) return;
  for (const row of list.querySelectorAll(`.journey-row[data-contact-id="${Number(payload.contact_id)}"]`)) {
    setChip(row, payload.colour);
    row.querySelector(".journey-optout").hidden = payload.state !== "opted_out";
  }
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
drawTabs();

