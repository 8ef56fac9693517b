// The workspace's right pane: opens a journey's thread beside the list without a page load (the URL
// still names the journey, back/forward and reload work), and its one-click actions: Assign to me,
// Close and next.

import { patch } from "./api.js";
import { onEvent } from "./live.js";
import { mountJourney } from "./journey.js";
import { filterQuery, followLocation, markCurrent, refreshCounts, rowFor, setUnread } from "./inbox.js";

const workspace = document.getElementById("workspace");
const paneBody = document.getElementById("pane-body");
const actions = document.getElementById("pane-actions");
const assignButton = document.getElementById("assign-me");
const closeButton = document.getElementById("close-next");
const status = document.getElementById("pane-status");
const me = Number(workspace.dataset.userId);
const JOURNEY_PATH = /^\/journeys\/(\d+)$/;

let current = null; // what mountJourney returned for the open thread
let opening = 0; // the latest open's number: an older answer arriving late is dropped
let shown = { assignee_id: null, is_open: true }; // the open journey's fields the buttons depend on

// The open thread's journey id, or null.
export function currentJourney() {
  return current ? current.journeyId : null;
}

// Say what the last action did (or why it failed).
function say(text, isError = false) {
  status.textContent = text;
  status.classList.toggle("field-error", isError);
}

// The buttons for the open journey's assignee and open/closed state.
function drawActions(journey) {
  shown = { ...shown, ...journey };
  const mine = shown.assignee_id === me;
  assignButton.disabled = mine;
  assignButton.textContent = mine ? "Assigned to you" : "Assign to me";
  closeButton.disabled = !shown.is_open;
  closeButton.title = shown.is_open ? "" : "This journey is closed already";
}

// The empty right pane ("pick a conversation").
function emptyPane() {
  const note = document.createElement("p");
  note.className = "pane-empty";
  note.textContent = "Pick a conversation on the left. Press ? for the keyboard shortcuts.";
  return note;
}

// Leave the open thread (its room and listeners), showing the empty pane.
export function closePane({ push = true } = {}) {
  current?.unmount();
  current = null;
  window.__inboxReady = true; // the list alone is ready at once
  delete workspace.dataset.journeyId;
  workspace.classList.remove("has-thread");
  document.body.dataset.page = "inbox";
  actions.hidden = true;
  paneBody.replaceChildren(emptyPane());
  say("");
  markCurrent();
  if (push) history.pushState({}, "", `/${filterQuery()}`);
}

// Show a server-rendered <main id="journey"> in the pane and run it.
function mount(main, journeyId, options) {
  current?.unmount();
  if (main.parentNode !== paneBody) paneBody.replaceChildren(main);
  workspace.dataset.journeyId = String(journeyId);
  workspace.classList.add("has-thread");
  document.body.dataset.page = "journey";
  actions.hidden = false;
  say("");
  const assignee = main.querySelector("#journey-assignee");
  const toggle = main.querySelector("#journey-toggle-open");
  drawActions({
    assignee_id: assignee && assignee.value ? Number(assignee.value) : null,
    is_open: toggle ? toggle.dataset.open === "1" : true,
  });
  current = mountJourney(main, options);
  markCurrent();
  const row = rowFor(journeyId);
  if (row) setUnread(row, 0); // loading the thread marks it read on the server
  return current.settled;
}

// Open a journey in the right pane: fetch its pane, swap it in, join its room. `highlight` marks a
// message (a search result); `push` adds a history entry (not when following back/forward).
export async function openJourney(journeyId, { push = true, highlight = null, focus = true } = {}) {
  const id = Number(journeyId);
  const mine = ++opening;
  say("Opening…");
  let html;
  try {
    const response = await fetch(`/journeys/${id}/pane`, { credentials: "same-origin", headers: { Accept: "text/html" } });
    if (response.redirected && new URL(response.url).pathname === "/login") {
      location.assign(`/journeys/${id}`); // the login ended: the form brings them back here
      return;
    }
    if (!response.ok) throw new Error(response.status === 404 ? "not found" : `error ${response.status}`);
    html = await response.text();
  } catch (err) {
    if (mine === opening) say(`Could not open that conversation (${err.message}).`, true);
    return;
  }
  if (mine !== opening) return;
  // Our own server's template (autoescaped); it carries no scripts, and none would run from here.
  const main = new DOMParser().parseFromString(html, "text/html").getElementById("journey");
  if (!main) return say("Could not open that conversation.", true);
  if (push) history.pushState({ journeyId: id }, "", `/journeys/${id}${filterQuery()}`);
  await mount(document.adoptNode(main), id, { highlight, focus });
}

// A local link the workspace can follow itself: a journey, or the list under a filter.
function route(url) {
  if (url.origin !== location.origin) return null;
  const match = JOURNEY_PATH.exec(url.pathname);
  if (match) return { journeyId: Number(match[1]) };
  if (url.pathname === "/") return { list: url.search };
  return null;
}

// Follow the URL as it is now (after back/forward): the thread it names, the filter it carries.
function follow() {
  const target = route(new URL(location.href));
  if (target?.journeyId) {
    if (target.journeyId !== currentJourney()) openJourney(target.journeyId, { push: false, focus: false });
  } else if (current) {
    closePane({ push: false });
  }
  followLocation();
}

// --- the buttons -------------------------------------------------------------------------------

// Assign the open journey to the signed-in user.
export async function assignToMe() {
  const id = currentJourney();
  if (!id || shown.assignee_id === me) return;
  say("Assigning…");
  try {
    const { journey } = await patch(`/api/journeys/${id}`, { assignee_id: me });
    drawActions(journey);
    say("Assigned to you.");
    refreshCounts();
  } catch (err) {
    say(`Not assigned: ${err.message}`, true);
  }
}

// The row after the open one in the list the user sees (or before it, at the end), if any.
export function neighbour(rows, id, step = 1) {
  const at = rows.findIndex((row) => Number(row.dataset.journeyId) === id);
  if (at < 0) return rows[0] || null;
  return rows[at + step] || null;
}

// Close the open journey and open the next one of the list (the previous one at its end).
export async function closeAndNext(rows) {
  const id = currentJourney();
  if (!id || !shown.is_open) return;
  const next = neighbour(rows, id, 1) || neighbour(rows, id, -1);
  say("Closing…");
  try {
    const { journey } = await patch(`/api/journeys/${id}`, { is_open: false });
    drawActions(journey);
  } catch (err) {
    say(`Not closed: ${err.message}`, true);
    return;
  }
  refreshCounts();
  if (next) await openJourney(Number(next.dataset.journeyId));
  else closePane();
  say("Closed. This is the next one.");
}

// --- start -----------------------------------------------------------------------------------

// Wire the pane: the server-rendered thread (a direct URL, a reload), links, back/forward, live fields.
export function initPanes({ visibleRows }) {
  const main = paneBody.querySelector("#journey");
  if (main) {
    const id = Number(main.dataset.journeyId);
    history.replaceState({ journeyId: id }, "", location.href);
    mount(main, id, { focus: true });
  }
  assignButton.addEventListener("click", assignToMe);
  closeButton.addEventListener("click", () => closeAndNext(visibleRows()));
  // Journey links anywhere (rows, results, popups, "Back to"): switch in place, no page load.
  document.addEventListener("click", (event) => {
    const link = event.target.closest("a[href]");
    if (!link || link.target || link.hasAttribute("download") || event.defaultPrevented) return;
    if (event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
    const target = route(new URL(link.href, location.href));
    if (!target) return;
    event.preventDefault();
    if (target.journeyId) {
      openJourney(target.journeyId);
    } else {
      history.pushState({}, "", `/${target.list}`);
      follow();
    }
  });
  window.addEventListener("popstate", follow);
  onEvent("journey.updated", (journey) => {
    if (journey && journey.id === currentJourney()) drawActions(journey);
  });
}
