// The Twilio simulator page: play the client's phone; texts go through the signed webhook path.

import { csrfToken } from "./api.js";
import { formatTime } from "./format.js";

const $ = (id) => document.getElementById(id);
const form = $("sim-form");
const from = $("sim-from");
const to = $("sim-to");
const body = $("sim-body");
const photo = $("sim-photo");
const send = $("sim-send");
const list = $("sim-thread");
const errorEl = $("sim-error");
const POLL_MS = 1500;
let conversation = ""; // "from|to" the thread shows
let polling = false;

// Show (or clear with "") an error under the composer.
function showError(text) {
  errorEl.textContent = text;
  errorEl.hidden = !text;
}

// One bubble: what the phone sent on the right, the practice's texts on the left.
function bubble(msg) {
  const li = document.createElement("li");
  const mine = msg.direction === "inbound";
  li.className = `sim-message ${mine ? "sim-mine" : "sim-theirs"}`;
  li.dataset.messageId = String(msg.id);
  const text = document.createElement("p");
  text.className = "sim-body";
  text.textContent = msg.body || "";
  text.hidden = !msg.body;
  li.append(text);
  if (msg.attachments) {
    const att = document.createElement("p");
    att.className = "sim-attachments";
    att.textContent = `📎 ${msg.attachments} attachment${msg.attachments === 1 ? "" : "s"}`;
    li.append(att);
  }
  const meta = document.createElement("p");
  meta.className = "sim-meta";
  meta.textContent = [formatTime(msg.created_at), mine ? null : msg.status].filter(Boolean).join(" · ");
  li.append(meta);
  return li;
}

// Draw the conversation in the server's order, one bubble per id, keeping the scroll at the end when it was there.
function render(messages) {
  const stick = list.scrollHeight - list.scrollTop - list.clientHeight < 60;
  const seen = new Set();
  for (const msg of messages) {
    seen.add(String(msg.id));
    const node = bubble(msg);
    const old = list.querySelector(`[data-message-id="${Number(msg.id)}"]`);
    if (old && old.textContent === node.textContent) list.append(old); // keeps the server's order
    else {
      old?.remove();
      list.append(node);
    }
  }
  for (const node of list.querySelectorAll("[data-message-id]")) {
    if (!seen.has(node.dataset.messageId)) node.remove();
  }
  const empty = list.querySelector(".thread-note");
  if (messages.length) empty?.remove();
  else if (!empty) list.replaceChildren(Object.assign(document.createElement("li"), { className: "thread-note", textContent: "No texts yet. Say hello." }));
  if (stick) list.scrollTop = list.scrollHeight;
}

// Fetch the conversation between the phone number and the practice number.
async function poll() {
  const key = `${from.value.trim()}|${to.value}`;
  if (polling || !from.value.trim() || !to.value) return;
  polling = true;
  try {
    const params = new URLSearchParams({ from: from.value.trim(), to: to.value });
    const response = await fetch(`/simulator/thread?${params}`, { credentials: "same-origin" });
    if (response.status === 401) location.assign("/login");
    if (!response.ok) return;
    const data = await response.json();
    if (key !== conversation) list.replaceChildren();
    conversation = key;
    render(data.messages || []);
  } catch {
    // The next poll tries again.
  } finally {
    polling = false;
  }
}

// Text the practice (with photos), as multipart form data like a real MMS webhook would carry.
async function submit(event) {
  event.preventDefault();
  showError("");
  if (!from.value.trim()) return showError("Enter the phone number you are texting from.");
  if (!body.value.trim() && !photo.files.length) return showError("Write a message or attach a photo.");
  send.disabled = true;
  try {
    const response = await fetch("/simulator/send", {
      method: "POST",
      body: new FormData(form),
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(), Accept: "application/json" },
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok || data.error) {
      showError(data.error || `Not sent (${response.status}).`);
      return;
    }
    body.value = "";
    photo.value = "";
    localStorage.setItem("sim-from", from.value.trim());
    poll();
  } catch {
    showError("Not sent: the server could not be reached.");
  } finally {
    send.disabled = false;
    body.focus();
  }
}

form.addEventListener("submit", submit);
body.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey) {
    event.preventDefault();
    form.requestSubmit();
  }
});
from.addEventListener("change", poll);
to.addEventListener("change", poll);

const remembered = localStorage.getItem("sim-from");
if (remembered) from.value = remembered;
poll();
setInterval(poll, POLL_MS);
