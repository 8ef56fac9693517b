// The team's workspace: the inbox list on the left, the open thread on the right, the search box and
// the keyboard shortcuts, wired together.

import { rowFor } from "./inbox.js";
import { assignToMe, closeAndNext, currentJourney, initPanes, neighbour, openJourney } from "./panes.js";
import { clearSearch, focusSearch, initSearch, resultRows, searching } from "./search.js";
import { initKeys } from "./keys.js";
import { onConnect } from "./live.js";

const list = document.getElementById("journey-list");
const keysDialog = document.getElementById("keys-dialog");

// The rows the user sees now: the search results while they show, else the list.
function visibleRows() {
  return searching() ? resultRows() : [...list.querySelectorAll(".journey-row")];
}

// Open the next (step 1) or previous (-1) conversation of what the user sees.
function move(step) {
  const rows = visibleRows();
  const next = currentJourney() ? neighbour(rows, currentJourney(), step) : rows[step > 0 ? 0 : rows.length - 1];
  if (next) openRow(next);
}

// Open a row of the list or of the results (a result opens at the text that matched).
function openRow(row) {
  const link = row.querySelector("a.journey-link");
  link?.click();
  link?.scrollIntoView({ block: "nearest" });
}

// The next conversation with unread texts after the open one (wrapping round), if any.
function nextUnread() {
  const rows = [...list.querySelectorAll(".journey-row")];
  const at = rows.findIndex((row) => Number(row.dataset.journeyId) === currentJourney());
  const ordered = [...rows.slice(at + 1), ...rows.slice(0, Math.max(at, 0))];
  const next = ordered.find((row) => row.classList.contains("has-unread"));
  if (next) {
    if (searching()) clearSearch();
    openRow(next);
  }
}

// Put the cursor in the open thread's composer (or, without a thread, in the search box).
function reply() {
  const body = document.getElementById("composer-body");
  if (body && !body.disabled) body.focus();
  else focusSearch();
}

initPanes({ visibleRows });
initSearch((journeyId, messageId) => openJourney(journeyId, { highlight: messageId }));
document.getElementById("keys-help").addEventListener("click", () => keysDialog.showModal());
initKeys({
  j: () => move(1),
  k: () => move(-1),
  u: nextUnread,
  r: reply,
  "/": focusSearch,
  a: assignToMe,
  e: () => closeAndNext(visibleRows()),
  "?": () => keysDialog.showModal(),
});
// Without a thread open, the workspace is ready once live (an open thread says so once it has loaded).
onConnect(() => {
  if (!currentJourney()) window.__inboxReady = true;
});
// A row already selected on load (a direct URL) is in view.
rowFor(currentJourney())?.scrollIntoView({ block: "nearest" });
