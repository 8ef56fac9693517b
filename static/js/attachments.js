// The journey's attachments: one store fed by the thread, the grid tab and the viewer's edits.

import { get, post } from "./api.js";
import { formatSize, formatTime } from "./format.js";
import { isImage } from "./thread.js";

const store = new Map();
const listeners = new Set();

// Remember attachments (newest data wins) and tell whoever listens which ones changed.
export function remember(list) {
  const changed = [];
  for (const att of list || []) {
    if (!att || typeof att.id !== "number") continue;
    store.set(att.id, att);
    changed.push(att);
  }
  if (changed.length) for (const fn of listeners) fn(changed);
}

// Listen to attachment changes: fn(changedAttachments); returns a function that stops listening.
export function onAttachmentsChanged(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

// Forget every attachment (the thread pane switched journeys: the viewer pages through this one only).
export function forgetAttachments() {
  store.clear();
}

// One attachment by id.
export function attachment(id) {
  return store.get(Number(id));
}

// Ready photos in the order they arrived (what the viewer pages through).
export function viewablePhotos() {
  return [...store.values()].filter((a) => a.status === "ready" && isImage(a) && a.url).sort((a, b) => a.id - b.id);
}

// Ask the server to fetch an unavailable attachment again.
export async function retry(id, button) {
  if (button) button.disabled = true;
  try {
    const { attachment: att } = await post(`/api/attachments/${Number(id)}/retry`);
    remember([att]);
  } catch (err) {
    if (button) {
      button.disabled = false;
      button.textContent = "Retry failed — try again";
      button.title = err.message;
    }
  }
}

// A new element with a class and text.
function el(tag, className, text) {
  const node = document.createElement(tag);
  node.className = className;
  if (text) node.textContent = text;
  return node;
}

// One card of the grid (reusing an already loaded image so it is not fetched and audited again).
function card(att, old, onOpen) {
  const item = el("figure", `grid-item status-${att.status}`);
  item.dataset.attachmentId = String(att.id);
  if (att.status === "ready" && isImage(att) && att.thumbnail_url) {
    const button = el("button", "grid-thumb");
    button.type = "button";
    button.setAttribute("aria-label", `Open ${att.label_text || "photo"} ${att.id}`);
    const oldImg = old?.querySelector("img");
    const img = oldImg?.getAttribute("src") === att.thumbnail_url ? oldImg : document.createElement("img");
    if (img !== oldImg) Object.assign(img, { src: att.thumbnail_url, alt: "", loading: "lazy" });
    button.append(img);
    button.addEventListener("click", () => onOpen(att.id));
    item.append(button);
  } else if (att.status === "ready") {
    const link = el("a", "grid-file", att.content_type === "application/pdf" ? "PDF" : "File");
    link.href = att.download_url;
    link.setAttribute("aria-label", `Download file ${att.id}`);
    item.append(link);
  } else if (att.status === "unavailable") {
    const box = el("div", "grid-missing", `Unavailable — ${att.error || "could not be fetched"}`);
    const button = el("button", "btn btn-small attachment-retry", "Retry");
    button.type = "button";
    button.addEventListener("click", () => retry(att.id, button));
    box.append(button);
    item.append(box);
  } else {
    item.append(el("div", "grid-missing", "Loading photo…"));
  }
  const caption = el("figcaption", "grid-caption");
  caption.append(el("span", "grid-label", att.label_text || "No label"));
  const bits = [formatSize(att.size)];
  if (att.reviewed_at) bits.push(`reviewed by ${att.reviewed_by || "staff"} ${formatTime(att.reviewed_at)}`);
  caption.append(el("span", "grid-meta", bits.filter(Boolean).join(" · ")));
  item.append(caption);
  return item;
}

// The Attachments tab: loads on first show, then stays current from the store.
export function createGrid({ journeyId, gridEl, emptyEl, countEl, onOpen }) {
  let loaded = false;

  // Draw every attachment, newest first.
  function render() {
    const atts = [...store.values()].sort((a, b) => b.id - a.id);
    const cards = atts.map((att) => card(att, gridEl.querySelector(`[data-attachment-id="${att.id}"]`), onOpen));
    gridEl.replaceChildren(...cards);
    emptyEl.hidden = !loaded || atts.length > 0;
    countEl.textContent = atts.length ? String(atts.length) : "";
    countEl.hidden = !atts.length;
  }

  // Fetch the list from the server (first show, and after a reconnect).
  async function load() {
    try {
      const { attachments } = await get(`/api/journeys/${journeyId}/attachments`);
      loaded = true;
      gridEl.setAttribute("aria-busy", "false");
      remember(attachments);
      render();
    } catch (err) {
      gridEl.replaceChildren(el("p", "field-error", `Could not load attachments: ${err.message}`));
    }
  }

  onAttachmentsChanged(() => render());
  return {
    load,
    render,
    get loaded() {
      return loaded;
    },
  };
}
