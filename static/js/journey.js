// A journey's thread pane: loads the thread, joins its live room, catches up after blips, wires the parts.
// mountJourney(main) runs it on the pane's <main id="journey">; its unmount() leaves the room and
// stops every listener, so the workspace can switch threads without a page load.

import { get, post } from "./api.js";
import { emitWithAck, onConnect, onEvent, socket } from "./live.js";
import { createThread } from "./thread.js";
import { createComposer } from "./composer.js";
import { createSendLater } from "./send-later.js";
import { createConsent } from "./consent.js";
import { createRedactor } from "./redact.js";
import { createContactHeader, createDetails } from "./details.js";
import { createGrid, forgetAttachments, onAttachmentsChanged, remember, retry } from "./attachments.js";
import { initViewer, openViewer } from "./viewer.js";
import { debounce } from "./format.js";
import { createAsker } from "./dialogs.js";
import { showBanner } from "./safety.js";

let viewerReady = false;

// Run the thread pane on `main` (<main id="journey">). Options: highlight, a message id to scroll to and
// mark (a search result); focus, put the cursor in the composer once loaded. Returns { unmount }.
export function mountJourney(main, { highlight = null, focus = false } = {}) {
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
  if (!viewerReady) {
    viewerReady = true;
    initViewer(); // the viewer lives outside the pane: wired once per page
  }
  // What unmount() undoes: socket and connect listeners, document listeners, timers.
  const stops = [];
  let mounted = true;
  window.__inboxReady = false;

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
    if (!mounted) {
      // The pane moved on while the server answered: do not keep hearing this thread.
      if (ack.ok) socket.emit("leave_journey", { journey_id: journeyId });
      return;
    }
    const loaded = await loadThread();
    if (isReconnect) {
      loadHeader();
      if (grid.loaded) grid.load();
    }
    if (!ack.ok) {
      threadError.textContent = `Live updates are off for this thread (${ack.error || "no answer"}). Reload the page.`;
      threadError.hidden = false;
    } else if (loaded && mounted) {
      window.__inboxReady = true;
    }
    readMentions();
  }

  // Opening the thread reads the notes that mention this person here (their other tabs hear the count).
  function readMentions() {
    if (document.visibilityState === "visible" && mounted) {
      post("/api/mentions/read", { journey_id: journeyId }).catch(() => {});
    }
  }

  // Keep the read marker current for texts that arrive while this thread is on screen.
  const markRead = debounce(() => {
    if (document.visibilityState === "visible") post(`/api/journeys/${journeyId}/read`).catch(() => {});
  }, 1000);
  let unreadWhileHidden = false;

  stops.push(
    onEvent("message.new", (msg) => {
      if (!msg || msg.journey_id !== journeyId) return;
      showMessage(msg);
      if (msg.direction === "note" && (msg.flags?.mentions || []).includes(userId)) readMentions();
      if (msg.direction === "inbound") {
        if (document.visibilityState === "visible") markRead();
        else unreadWhileHidden = true;
      }
    }),
  );
  stops.push(
    onEvent("message.updated", (msg) => {
      if (msg && msg.journey_id === journeyId) showMessage(msg);
    }),
  );
  stops.push(
    onEvent("message.moved", (moved) => {
      if (moved && moved.from_journey_id === journeyId) thread.remove(moved.id);
    }),
  );
  stops.push(
    onEvent("consent.changed", (payload) => {
      if (payload && Number(payload.contact_id) === contactId) consent.applyEvent(payload);
    }),
  );
  stops.push(onEvent("practice.consent_rule", () => loadHeader())); // an admin switched "require opt-in"
  stops.push(onEvent("contact.updated", (contact) => contactHeader.render(contact))); // named in any tab
  stops.push(
    onEvent("journey.viewers", (payload) => {
      if (payload && payload.journey_id === journeyId) contactHeader.renderViewers(payload);
    }),
  );
  stops.push(
    onEvent("journey.updated", (journey) => {
      if (journey && journey.id === journeyId) details.render(journey);
    }),
  );
  function onVisible() {
    if (document.visibilityState === "visible" && unreadWhileHidden) {
      unreadWhileHidden = false;
      markRead();
    }
    if (document.visibilityState === "visible") readMentions();
  }
  document.addEventListener("visibilitychange", onVisible);
  stops.push(() => document.removeEventListener("visibilitychange", onVisible));

  // A retry, a label or a review changes an attachment: redraw its bubble too.
  stops.push(onAttachmentsChanged((changed) => changed.forEach((att) => thread.patchAttachment(att))));

  // --- tabs (arrow keys move between them, as in the ARIA tabs pattern) -------------------------

  const tabs = [...main.querySelectorAll('[role="tab"]')];

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
  showBanner();
  stops.push(onConnect(sync));
  // No live connection after a few seconds (blocked websockets, proxy trouble): show the thread anyway.
  const fallback = setTimeout(() => {
    if (!thread.loaded) loadThread();
  }, 3000);
  stops.push(() => clearTimeout(fallback));

  // The message a search found: scrolled to and marked, once the thread shows it.
  function showMatch() {
    const node = highlight && main.querySelector(`.message[data-message-id="${Number(highlight)}"]`);
    if (!node) return;
    node.classList.add("message-match");
    // Scroll the thread only (not the page, which would hide the pane's bar): the match in its middle.
    const list = document.getElementById("thread");
    const offset = node.getBoundingClientRect().top - list.getBoundingClientRect().top;
    list.scrollTop += offset - (list.clientHeight - node.offsetHeight) / 2;
  }

  // Put the cursor where a reply goes (when the composer can take one).
  function focusComposer() {
    const body = document.getElementById("composer-body");
    if (body && !body.disabled && mounted) body.focus({ preventScroll: true });
  }

  if (focus) focusComposer(); // at once: a key pressed meanwhile lands in the composer, not elsewhere
  return {
    journeyId,
    // The thread is on screen (its first page loaded): mark the match.
    settled: (async () => {
      while (mounted && !thread.loaded) await new Promise((done) => setTimeout(done, 50));
      showMatch();
    })(),
    focusComposer,
    // Leave the thread: its room, its listeners, its timers; the caller removes the DOM.
    unmount() {
      mounted = false;
      stops.forEach((stop) => stop());
      stops.length = 0;
      forgetAttachments();
      if (socket.connected) socket.emit("leave_journey", { journey_id: journeyId });
    },
  };
}
