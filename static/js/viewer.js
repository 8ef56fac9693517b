// The photo viewer <dialog>: zoom, rotate, page through, label, mark reviewed, download.

import { patch } from "./api.js";
import { attachment, onAttachmentsChanged, remember, viewablePhotos } from "./attachments.js";
import { formatSize, formatTime } from "./format.js";

const ZOOMS = [0.25, 0.5, 0.75, 1, 1.25, 1.5, 2, 3, 4];
const $ = (id) => document.getElementById(id);

const dialog = $("viewer");
const img = $("viewer-img");
const stage = $("viewer-stage");
const canvas = $("viewer-canvas");
const labelSelect = $("viewer-label");
const reviewedButton = $("viewer-reviewed");
const reviewedBy = $("viewer-reviewed-by");
const status = $("viewer-status");

let currentId = null;
let zoomIndex = ZOOMS.indexOf(1);
let rotation = 0;
let opener = null;
let lastShownId = null;

// Lay the photo out: fit the stage at 100 %, then zoom and rotate with a CSS transform
// (CSSOM assignments are allowed under the CSP, unlike style="" attributes). The canvas takes the
// zoomed, rotated size, so the stage's scroll bars reach every corner of a zoomed photo.
function applyTransform() {
  const zoom = ZOOMS[zoomIndex];
  const sideways = rotation % 180 !== 0;
  const nw = img.naturalWidth || 1;
  const nh = img.naturalHeight || 1;
  const [boxW, boxH] = sideways ? [nh, nw] : [nw, nh];
  const fit = Math.min(stage.clientWidth / boxW, stage.clientHeight / boxH, 1) || 1;
  img.style.width = `${nw * fit}px`;
  img.style.height = `${nh * fit}px`;
  canvas.style.width = `${boxW * fit * zoom}px`;
  canvas.style.height = `${boxH * fit * zoom}px`;
  img.style.transform = `translate(-50%, -50%) rotate(${rotation}deg) scale(${zoom})`;
  stage.classList.toggle("zoomed", zoom > 1);
  $("viewer-zoom-level").textContent = `${Math.round(zoom * 100)}%`;
  dialog.dataset.rotation = String(rotation);
  dialog.dataset.zoom = String(zoom);
}

// Step the zoom level up (+1) or down (-1).
function zoomBy(step) {
  zoomIndex = Math.min(ZOOMS.length - 1, Math.max(0, zoomIndex + step));
  applyTransform();
}

// Turn the photo a quarter clockwise.
function rotate() {
  rotation = (rotation + 90) % 360;
  applyTransform();
}

// Back to 100 %, upright.
function reset() {
  zoomIndex = ZOOMS.indexOf(1);
  rotation = 0;
  applyTransform();
}

// Show the label, review state and links of the current attachment.
function renderDetails(att) {
  labelSelect.value = att.label || "";
  if (att.reviewed_at) {
    reviewedButton.textContent = "Reviewed ✓";
    reviewedButton.disabled = true;
    reviewedBy.textContent = `Reviewed by ${att.reviewed_by || "staff"} · ${formatTime(att.reviewed_at)}`;
  } else {
    reviewedButton.textContent = "Mark reviewed";
    reviewedButton.disabled = false;
    reviewedBy.textContent = "Not reviewed yet";
  }
  $("viewer-download").href = att.download_url || "#";
  const dims = att.width && att.height ? `${att.width}×${att.height} · ` : "";
  $("viewer-meta").textContent = `${dims}${formatSize(att.size)}`;
  $("viewer-title").textContent = att.label_text || "Photo";
  const photos = viewablePhotos();
  const index = photos.findIndex((a) => a.id === att.id);
  $("viewer-prev").disabled = index <= 0;
  $("viewer-next").disabled = index < 0 || index >= photos.length - 1;
}

// Show one attachment (resetting zoom and rotation).
function show(id) {
  const att = attachment(id);
  if (!att || !att.url) return;
  currentId = lastShownId = att.id;
  dialog.dataset.attachmentId = String(att.id);
  if (img.getAttribute("src") !== att.url) img.src = att.url;
  img.alt = att.label_text || "Photo sent by the contact";
  status.textContent = "";
  reset();
  renderDetails(att);
}

// Go to the previous (-1) or next (+1) photo of the journey.
function page(step) {
  const photos = viewablePhotos();
  const index = photos.findIndex((a) => a.id === currentId);
  const target = photos[index + step];
  if (target) show(target.id);
}

// Open the viewer on an attachment; focus returns to what opened it when it closes.
export function openViewer(id) {
  opener = document.activeElement;
  show(id);
  if (!dialog.open) dialog.showModal();
  applyTransform(); // the stage has its size only now that the dialog is shown
  $("viewer-close").focus();
}

// Save a label or the review mark, then show what the server answered.
async function save(changes, doneText) {
  const id = currentId;
  status.textContent = "Saving…";
  try {
    const { attachment: att } = await patch(`/api/attachments/${id}`, changes);
    remember([att]);
    status.textContent = doneText;
  } catch (err) {
    status.textContent = `Not saved: ${err.message}`;
    const att = attachment(id);
    if (att && currentId === id) renderDetails(att);
  }
}

// Keyboard: +/-/arrows zoom, R rotates, ←/→ page; Esc is the dialog's own (closes it).
function onKey(event) {
  if (!dialog.open) return;
  if (event.target.closest("select, input, textarea") || event.ctrlKey || event.metaKey || event.altKey) return;
  const actions = {
    "+": () => zoomBy(1),
    "=": () => zoomBy(1),
    ArrowUp: () => zoomBy(1),
    "-": () => zoomBy(-1),
    _: () => zoomBy(-1),
    ArrowDown: () => zoomBy(-1),
    r: rotate,
    R: rotate,
    "0": reset,
    ArrowLeft: () => page(-1),
    ArrowRight: () => page(1),
  };
  const action = actions[event.key];
  if (action) {
    event.preventDefault();
    action();
  }
}

// Wire the dialog's controls once.
export function initViewer() {
  if (!dialog) return;
  $("viewer-zoom-in").addEventListener("click", () => zoomBy(1));
  $("viewer-zoom-out").addEventListener("click", () => zoomBy(-1));
  $("viewer-rotate").addEventListener("click", rotate);
  $("viewer-reset").addEventListener("click", reset);
  $("viewer-prev").addEventListener("click", () => page(-1));
  $("viewer-next").addEventListener("click", () => page(1));
  $("viewer-close").addEventListener("click", () => dialog.close());
  labelSelect.addEventListener("change", () => save({ label: labelSelect.value || null }, "Label saved"));
  reviewedButton.addEventListener("click", async () => {
    await save({ reviewed: true }, "Marked reviewed");
    if (document.activeElement === document.body) $("viewer-close").focus();
  });
  // On the document, not the dialog: a button that just became disabled drops focus to <body>.
  document.addEventListener("keydown", onKey);
  img.addEventListener("load", applyTransform);
  window.addEventListener("resize", () => dialog.open && applyTransform());
  // A click on the backdrop (outside the dialog box) closes it too.
  dialog.addEventListener("click", (event) => {
    if (event.target === dialog) dialog.close();
  });
  dialog.addEventListener("close", () => {
    currentId = null;
    // The thumbnail may have been redrawn meanwhile (a label, a review): find its successor.
    const target = opener && document.contains(opener)
      ? opener
      : document.querySelector(`.thumb[data-attachment-id="${lastShownId}"], [data-attachment-id="${lastShownId}"] button`);
    target?.focus();
  });
  onAttachmentsChanged((changed) => {
    const att = changed.find((a) => a.id === currentId);
    if (att && dialog.open) renderDetails(att);
  });
}
