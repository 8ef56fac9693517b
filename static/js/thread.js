// A journey's thread: one bubble per message id, updated in place, oldest first.

import { formatSize, formatTime, statusText } from "./format.js";
import { CANCELLABLE, MOVABLE, UNSETTLED } from "./vocabulary.js";

// What became of a text that read like an opt-out (texting/revocations.py).
const OPT_OUT_DECISION_WORDS = {
  confirmed: "Opt-out confirmed by staff",
  dismissed: "Read like an opt-out: staff dismissed it",
  superseded: "Read like an opt-out: the contact opted out",
};
const KIND_WORDS = {
  automated: "Automated",
  opt_in_request: "Opt-in request",
  keyword_reply: "Keyword reply",
  web_request: "Website request",
};

// A new element with a class and (text-only) content.
function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

// Is this attachment a photo the browser can show?
export function isImage(att) {
  return typeof att.content_type === "string" && att.content_type.startsWith("image/");
}

// Build (or reuse, so it is not fetched again) the thumbnail button of a ready photo.
function thumbNode(att, msg, old, handlers) {
  const reused = old?.querySelector(`.thumb[data-attachment-id="${att.id}"]`);
  const button = el("button", "thumb");
  button.type = "button";
  button.dataset.attachmentId = String(att.id);
  const what = att.label_text || "photo";
  button.setAttribute("aria-label", `Open ${what} from ${msg.sender || "contact"}`);
  const img = reused?.querySelector("img")?.getAttribute("src") === att.thumbnail_url
    ? reused.querySelector("img")
    : Object.assign(document.createElement("img"), { src: att.thumbnail_url, alt: "", loading: "lazy" });
  button.append(img);
  const caption = el("span", "thumb-caption", att.label_text || "");
  if (att.reviewed_at) caption.append(el("span", "thumb-reviewed", " · Reviewed ✓"));
  if (caption.textContent) button.append(caption);
  button.addEventListener("click", () => handlers.onOpen(att.id));
  return button;
}

// One attachment inside a bubble: a thumbnail, a file chip, "Loading photo…" or "unavailable [Retry]".
function attachmentNode(att, msg, old, handlers) {
  if (att.status === "ready" && att.thumbnail_url && isImage(att)) return thumbNode(att, msg, old, handlers);
  if (att.status === "ready") {
    const chip = el("span", "attachment-chip attachment-file");
    const type = att.content_type === "application/pdf" ? "PDF" : "File";
    chip.append(el("span", null, `${type} · ${formatSize(att.size)} `));
    const link = el("a", "attachment-download", "Download");
    link.href = att.download_url;
    chip.append(link);
    return chip;
  }
  if (att.status === "unavailable") {
    const chip = el("span", "attachment-chip attachment-unavailable");
    chip.append(el("span", null, `attachment unavailable — ${att.error || "could not be fetched"} `));
    const retry = el("button", "btn btn-small attachment-retry", "Retry");
    retry.type = "button";
    retry.addEventListener("click", () => handlers.onRetry(att.id, retry));
    chip.append(retry);
    return chip;
  }
  const pending = el("span", "attachment-chip attachment-pending", "Loading photo…");
  pending.setAttribute("role", "status");
  return pending;
}

// A journey change shown in the thread ("Dana Reyes moved this journey to Waitlist").
function activityLine(msg) {
  const li = el("li", "message message-activity");
  li.dataset.messageId = String(msg.id);
  const line = el("p", "activity-line", msg.body || "");
  const time = el("time", "message-time", formatTime(msg.created_at));
  time.setAttribute("datetime", msg.created_at || "");
  line.append(" · ", time);
  li.append(line);
  return li;
}

// Show the "@Name" words of a note's text in their own style (text nodes only, never HTML).
function highlightMentions(body) {
  const text = body.textContent;
  const parts = text.split(/(@[A-Z][\w'-]*(?: [A-Z][\w'-]*)?)/);
  if (parts.length < 2) return;
  body.replaceChildren(...parts.map((part, i) => (i % 2 ? el("span", "note-mention", part) : document.createTextNode(part))));
}

// Build the bubble of one message (reusing loaded thumbnails of `old`).
function buildMessage(msg, old, handlers) {
  if (msg.direction === "activity") return activityLine(msg);
  const out = msg.direction === "outbound";
  const note = msg.direction === "note"; // an internal note: staff only, never texted
  const side = note ? "message-note" : out ? "message-out" : "message-in";
  const li = el("li", `message ${side} status-${msg.status} kind-${msg.kind}`);
  li.dataset.messageId = String(msg.id);
  li.dataset.status = msg.status || "";
  li.id = `message-${msg.id}`; // the Mentions list links here
  const bubble = el("div", "bubble");
  if (note) {
    const label = el("p", "note-label", "Internal note · only staff see this");
    label.setAttribute("role", "note");
    bubble.append(label);
  }

  const meta = el("p", "message-meta");
  meta.append(el("span", "message-sender", msg.sender || (out ? "Staff" : "Contact")));
  if (KIND_WORDS[msg.kind]) meta.append(el("span", "message-kind", KIND_WORDS[msg.kind]));
  const time = el("time", "message-time", formatTime(msg.created_at));
  time.setAttribute("datetime", msg.created_at || "");
  meta.append(time);
  if (handlers.onMove && MOVABLE.has(msg.kind)) {
    const move = el("button", "btn btn-small btn-quiet message-move", "Move");
    move.type = "button";
    move.setAttribute("aria-label", "Move this text to another journey");
    move.addEventListener("click", () => handlers.onMove(msg.id));
    meta.append(move);
  }
  if (handlers.onCancel && out && CANCELLABLE.has(msg.status)) {
    const cancel = el("button", "btn btn-small btn-danger-quiet message-cancel", "Cancel");
    cancel.type = "button";
    cancel.setAttribute("aria-label", "Cancel this text before it goes");
    cancel.addEventListener("click", () => handlers.onCancel(msg.id));
    meta.append(cancel);
  }
  if (handlers.onRedact && !msg.redacted_at && !msg.purged_at && (msg.body || msg.attachments?.length)) {
    const redact = el("button", "btn btn-small btn-danger-quiet message-redact", "Redact");
    redact.type = "button";
    redact.setAttribute("aria-label", "Redact this message");
    redact.addEventListener("click", () => handlers.onRedact(msg.id));
    meta.append(redact);
  }
  bubble.append(meta);

  if (msg.flags && msg.flags.opt_out_language) {
    const decided = OPT_OUT_DECISION_WORDS[msg.flags.opt_out_decision];
    const flag = el("p", `message-flag${decided ? " is-decided" : ""}`, decided || "May be asking to opt out — ");
    if (!decided) flag.append(Object.assign(el("a", "", "confirm"), { href: "/opt-out-requests" }));
    flag.setAttribute("role", "note");
    bubble.append(flag);
  }
  if (msg.flags && msg.flags.risk) {
    const flag = el("p", "message-flag message-flag-risk", "Possible crisis language — check on this person");
    flag.setAttribute("role", "note");
    bubble.append(flag);
  }
  if (msg.flags && msg.flags.safety_reply) {
    const flag = el("p", "message-flag message-flag-info", "Safety reply, sent automatically after hours");
    flag.setAttribute("role", "note");
    bubble.append(flag);
  }

  const body = el("p", "message-body");
  if (msg.purged_at) {
    body.classList.add("message-redacted");
    body.textContent = "Removed by the practice's retention policy";
  } else if (msg.redacted_at) {
    body.classList.add("message-redacted");
    body.textContent = msg.redacted_by ? `Redacted by ${msg.redacted_by}` : "Message redacted";
  } else {
    body.textContent = msg.body || "";
    body.hidden = !msg.body;
  }
  bubble.append(body);
  if (note && !msg.redacted_at && !msg.purged_at) highlightMentions(body);

  if (msg.attachments && msg.attachments.length && !msg.redacted_at && !msg.purged_at) {
    const box = el("div", "message-attachments");
    for (const att of msg.attachments) box.append(attachmentNode(att, msg, old, handlers));
    bubble.append(box);
  }

  if (out) {
    const status = el("p", "message-status", statusText(msg));
    status.dataset.status = msg.status || "";
    bubble.append(status);
  }
  li.append(bubble);
  return li;
}

// Create the thread controller for an <ol>; handlers: onOpen(attachmentId), onRetry(id, button),
// and for admins onRedact(messageId).
export function createThread(listEl, handlers) {
  const messages = new Map();
  let loaded = false;

  // Is the list scrolled (nearly) to its end?
  function atBottom() {
    return listEl.scrollHeight - listEl.scrollTop - listEl.clientHeight < 80;
  }

  // Add a message, or update it in place if it is shown already (never twice).
  function upsert(msg) {
    if (!msg || typeof msg.id !== "number") return;
    const stick = atBottom();
    const old = listEl.querySelector(`.message[data-message-id="${msg.id}"]`);
    messages.set(msg.id, msg);
    const node = buildMessage(msg, old, handlers);
    if (old) {
      old.replaceWith(node);
      // A photo that became ready grows its bubble: a reader at the end stays at the end.
      if (stick) keepAtEnd(node);
      return;
    }
    // Ids grow with time: insert before the first bubble with a larger id.
    const next = [...listEl.querySelectorAll(".message[data-message-id]")].find(
      (n) => Number(n.dataset.messageId) > msg.id,
    );
    listEl.insertBefore(node, next || null);
    listEl.querySelector(".thread-note")?.remove();
    if (stick || msg.direction === "outbound" || msg.direction === "note") keepAtEnd(node);
  }

  // Scroll to the end now and again as the node's images load (their height is unknown until then).
  function keepAtEnd(node) {
    const toEnd = () => node.isConnected && node.scrollIntoView({ block: "end" });
    toEnd();
    for (const img of node.querySelectorAll("img")) {
      if (!img.complete) img.addEventListener("load", toEnd, { once: true });
    }
  }

  // Add a batch (a page load or a catch-up), then settle the scroll position at the end.
  function upsertMany(list, { scroll = false } = {}) {
    for (const msg of list) upsert(msg);
    if (!loaded) {
      loaded = true;
      listEl.setAttribute("aria-busy", "false");
      if (!messages.size) listEl.replaceChildren(el("li", "thread-note", "No messages yet."));
    }
    if (scroll) listEl.scrollTop = listEl.scrollHeight;
  }

  // Take a message out of this thread (staff moved it to another journey).
  function remove(id) {
    messages.delete(id);
    listEl.querySelector(`.message[data-message-id="${id}"]`)?.remove();
  }

  // Replace one attachment inside its message (after a retry, label or review).
  function patchAttachment(att) {
    const msg = messages.get(att.message_id);
    if (!msg) return;
    const attachments = msg.attachments.map((a) => (a.id === att.id ? att : a));
    upsert({ ...msg, attachments });
  }

  // The `after` id for a catch-up: the highest id shown, or just before the oldest unsettled
  // message, so status ticks and attachments missed during a blip are refreshed too.
  function catchUpAfter() {
    if (!loaded) return 0;
    let after = Math.max(0, ...messages.keys());
    for (const msg of messages.values()) {
      const pendingMedia = (msg.attachments || []).some((a) => a.status === "pending");
      if (UNSETTLED.has(msg.status) || pendingMedia) after = Math.min(after, msg.id - 1);
    }
    return after;
  }

  return {
    upsert,
    upsertMany,
    remove,
    patchAttachment,
    catchUpAfter,
    get loaded() {
      return loaded;
    },
    maxId: () => Math.max(0, ...messages.keys()),
    minId: () => Math.min(...messages.keys()),
    messages: () => [...messages.values()],
  };
}
