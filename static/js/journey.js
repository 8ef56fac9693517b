// The journey page: loads the thread, joins its live room, catches up after blips, wires the parts.

import { get, post } from "./api.js";
import { emitWithAck, onConnect, onEvent } from "./live.js";
import { createThread } from "./thread.js";
import { createComposer } from "./composer.js";
import { createSendLater } from "./send-later.js";
import { createConsent } from "./consent.js";
import { createRedactor } from "./redact.js";
import { createContactHeader, createDetails } from "./details.js";
import { createGrid, onAttachmentsChanged, remember, retry } from "./attachments.js";
import { initViewer, openViewer } from "./viewer.js";
import { debounce } from "./format.js";
import { createAsker } from "./dialogs.js";

const main = document.getElementById("journey");
const journeyId = Number(main.dataset.journeyId);
const contactId = Number(main.dataset.contactId);
const userId = Number(main.dataset.userId);
const threadError = document.getElementById("thread-error");

const redactDialog = document.getElementById("redact-dialog"); // present for admins only
const redactor = redactDialog && createRedactor(redactDialog, (msg) => thread.upsert(msg));
// Move a text to another journey of the contact (the dialog exists when there is one).
const moveDialog = document.getElementById("move-dialog");
const mover =
  moveDialog &&
  createAsker(moveDialog, "move-error", (id) =>
    post(`/api/messages/${id}/move`, { journey_id: Number(document.getElementById("move-target").value) }),
  );
// Stop a held or queued text before it goes.
const canceller = createAsker(document.getElementById("cancel-dialog"), "cancel-error", async (id) => {
  const { message } = await post(`/api/messages/${id}/cancel`);
  thread.upsert(message);
});
const thread = createThread(document.getElementById("thread"), {
  onOpen: openViewer,
  onRetry: retry,
  onRedact: redactor ? (id) => redactor.ask(id) : null,
  onMove: mover ? (id) => mover.ask(id) : null,
  onCancel: (id) => canceller.ask(id),
});
const consent = createConsent({
  journeyId,
  contactId,
  onChange: () => composer?.refresh(),
});
const composer = createComposer({ journeyId, thread, getBadge: () => consent.badge });
createSendLater(composer);
const details = createDetails(journeyId, contactId);
const contactHeader = createContactHeader(contactId, userId);
const grid = createGrid({
  journeyId,
  gridEl: document.getElementById("attachments-grid"),
  emptyEl: document.getElementById("attachments-empty"),
  countEl: document.getElementById("attachments-count"),
  onOpen: openViewer,
});
initViewer();

// Show a message and remember its attachments (for the grid and the viewer).
function showMessage(msg) {
  thread.upsert(msg);
  remember(msg.attachments);
}

const PAGE = 500; // the server's page size: a full page on catch-up means there is more after it

// Fetch the thread: the latest page the first time, afterwards only what may have changed (`after`),
// page after page, so a long absence loses nothing.
async function loadThread() {
  const first = !thread.loaded;
  let after = thread.catchUpAfter();
  try {
    for (let pages = 0; pages < 50; pages += 1) {
      const { messages } = await get(`/api/journeys/${journeyId}/messages${after ? `?after=${after}` : ""}`);
      for (const msg of messages) remember(msg.attachments);
      thread.upsertMany(messages, { scroll: first });
      if (first && !after) earlier.hidden = messages.length < PAGE;
      if (!after || messages.length < PAGE) break;
      after = messages[messages.length - 1].id;
    }
    threadError.hidden = true;
    return true;
  } catch (err) {
    threadError.textContent = `Could not load messages: ${err.message}`;
    threadError.hidden = false;
    return false;
  }
}

// Page back through a long thread, keeping the messages in view where they were.
const earlier = document.getElementById("thread-earlier");
earlier.addEventListener("click", async () => {
  const list = document.getElementById("thread");
  earlier.disabled = true;
  try {
    const { messages } = await get(`/api/journeys/${journeyId}/messages?before=${thread.minId()}`);
    const fromBottom = list.scrollHeight - list.scrollTop;
    for (const msg of messages) remember(msg.attachments);
    thread.upsertMany(messages);
    list.scrollTop = list.scrollHeight - fromBottom;
    earlier.hidden = messages.length < PAGE;
  } catch (err) {
    threadError.textContent = `Could not load earlier messages: ${err.message}`;
    threadError.hidden = false;
  } finally {
    earlier.disabled = false;
  }
});

// Contact, consent badge and journey fields as the server has them now.
async function loadHeader() {
  try {
    const data = await get(`/api/journeys/${journeyId}`);
    consent.render(data.contact.consent);
    details.render(data.journey);
  } catch {
    // The badge keeps its server-rendered state; a reconnect tries again.
  }
}

// Join the thread's room first, then fetch: a message is either pushed or in the answer (or both,
// and then shown once, by id). Runs on the first connect and on every reconnect.
async function sync(isReconnect) {
  const ack = await emitWithAck("join_journey", { journey_id: journeyId });
  const loaded = await loadThread();
  if (isReconnect) {
    loadHeader();
    if (grid.loaded) grid.load();
  }
  if (!ack.ok) {
    threadError.textContent = `Live updates are off for this thread (${ack.error || "no answer"}). Reload the page.`;
    threadError.hidden = false;
  } else if (loaded) {
    window.__inboxReady = true;
  }
  readMentions();
}

// Opening the thread reads the notes that mention this person here (their other tabs hear the count).
function readMentions() {
  if (document.visibilityState === "visible") post("/api/mentions/read", { journey_id: journeyId }).catch(() => {});
}

// Keep the read marker current for texts that arrive while this thread is on screen.
const markRead = debounce(() => {
  if (document.visibilityState === "visible") post(`/api/journeys/${journeyId}/read`).catch(() => {});
}, 1000);
let unreadWhileHidden = false;

onEvent("message.new", (msg) => {
  if (!msg || msg.journey_id !== journeyId) return;
  showMessage(msg);
  if (msg.direction === "note" && (msg.flags?.mentions || []).includes(userId)) readMentions();
  if (msg.direction === "inbound") {
    if (document.visibilityState === "visible") markRead();
    else unreadWhileHidden = true;
  }
});
onEvent("message.updated", (msg) => {
  if (msg && msg.journey_id === journeyId) showMessage(msg);
});
onEvent("message.moved", (moved) => {
  if (moved && moved.from_journey_id === journeyId) thread.remove(moved.id);
});
onEvent("consent.changed", (payload) => {
  if (payload && Number(payload.contact_id) === contactId) consent.applyEvent(payload);
});
onEvent("practice.consent_rule", () => loadHeader()); // an admin switched "require opt-in"
onEvent("contact.updated", (contact) => contactHeader.render(contact)); // named in any tab
onEvent("journey.viewers", (payload) => {
  if (payload && payload.journey_id === journeyId) contactHeader.renderViewers(payload);
});
onEvent("journey.updated", (journey) => {
  if (journey && journey.id === journeyId) details.render(journey);
});
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible" && unreadWhileHidden) {
    unreadWhileHidden = false;
    markRead();
  }
  if (document.visibilityState === "visible") readMentions();
});

// A retry, a label or a review changes an attachment: redraw its bubble too.
onAttachmentsChanged((changed) => changed.forEach((att) => thread.patchAttachment(att)));

// --- tabs (arrow keys move between them, as in the ARIA tabs pattern) -------------------------

const tabs = [...document.querySelectorAll('[role="tab"]')];

// Show one tab's panel; the Attachments grid loads the first time it is shown.
function selectTab(tab, focus = false) {
  for (const t of tabs) {
    const selected = t === tab;
    t.setAttribute("aria-selected", String(selected));
    t.tabIndex = selected ? 0 : -1;
    document.getElementById(t.getAttribute("aria-controls")).hidden = !selected;
  }
  if (focus) tab.focus();
  if (tab.id === "tab-attachments" && !grid.loaded) grid.load();
}

tabs.forEach((tab, i) => {
  tab.addEventListener("click", () => selectTab(tab));
  tab.addEventListener("keydown", (event) => {
    const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
    if (step) selectTab(tabs[(i + step + tabs.length) % tabs.length], true);
  });
});

// --- start ------------------------------------------------------------------------------------

loadHeader();
onConnect(sync);
// No live connection after a few seconds (blocked websockets, proxy trouble): show the thread anyway.
setTimeout(() => {
  if (!thread.loaded) loadThread();
}, 3000);
