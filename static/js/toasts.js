// Top-right notification popups: stacked, clickable, closable, gone by themselves after ~8 s.

const LIFETIME_MS = 8000;
const MAX_TOASTS = 5;

// Only same-site paths may be opened from a popup ("/journeys/7", never "//elsewhere").
export function safePath(url) {
  return typeof url === "string" && url.startsWith("/") && !url.startsWith("//") && !url.includes("\\")
    ? url
    : null;
}

// Remove a toast (and its timer) from the stack.
function dismiss(toast) {
  clearTimeout(toast._timer);
  toast.classList.add("toast-leaving");
  toast.remove();
}

// (Re)start the countdown after which a toast dismisses itself.
function arm(toast) {
  clearTimeout(toast._timer);
  toast._timer = setTimeout(() => dismiss(toast), LIFETIME_MS);
}

// Show a popup with a title and a snippet; clicking it opens `url`. Returns the toast element.
export function showToast({ title, snippet, url, kind = "message" }) {
  const container = document.getElementById("toasts");
  if (!container) return null;
  const href = safePath(url);

  const toast = document.createElement("div");
  toast.className = `toast toast-${kind}`;
  toast.setAttribute("role", "status");

  const link = document.createElement(href ? "a" : "div");
  link.className = "toast-link";
  if (href) link.href = href;
  const titleEl = document.createElement("strong");
  titleEl.className = "toast-title";
  titleEl.textContent = title || "New text";
  const snippetEl = document.createElement("span");
  snippetEl.className = "toast-snippet";
  snippetEl.textContent = snippet || "";
  link.append(titleEl, snippetEl);

  const close = document.createElement("button");
  close.type = "button";
  close.className = "toast-close";
  close.setAttribute("aria-label", "Dismiss notification");
  close.textContent = "×";
  close.addEventListener("click", (event) => {
    event.stopPropagation();
    dismiss(toast);
  });

  toast.append(link, close);
  // A click anywhere on the card (not only on the text) opens the thread.
  toast.addEventListener("click", (event) => {
    if (href && !event.target.closest("a, button")) location.assign(href);
  });
  // Keep it while the pointer or keyboard focus is on it, so it can be read and used.
  toast.addEventListener("mouseenter", () => clearTimeout(toast._timer));
  toast.addEventListener("mouseleave", () => arm(toast));
  toast.addEventListener("focusin", () => clearTimeout(toast._timer));
  toast.addEventListener("focusout", () => arm(toast));

  placeBelowFilters(container);
  container.prepend(toast);
  while (container.children.length > MAX_TOASTS) dismiss(container.lastElementChild);
  arm(toast);
  return toast;
}

// --- placement: never over the inbox's filter tabs ---------------------------------------------

const TOP_MIN = 64; // below the top bar (app.css .toasts)

// Start the stack below the page's filter tabs when they are on screen, so a popup never hides them.
function placeBelowFilters(container) {
  let top = TOP_MIN;
  for (const bar of document.querySelectorAll(".filter-tabs, .segmented, [data-toasts-below]")) {
    const box = bar.getBoundingClientRect();
    if (box.height && box.bottom > 0) top = Math.max(top, Math.ceil(box.bottom) + 8);
  }
  container.style.top = `${top}px`; // CSSOM, which the strict CSP allows (no inline style attribute)
}

// --- desktop notifications and the alert sound ---------------------------------------------------

const SOUND_KEY = "inbox.alertSound";
let audio = null;

// Can this browser show desktop notifications at all?
function hasNotifications() {
  return typeof window.Notification === "function";
}

// A desktop notification for a popup, when this browser may show one and nobody is looking at the
// page. Its words are ePHI-free: they appear on lock screens and in the system's notification list.
// `tag` makes the other tabs' copy of the same alert replace this one rather than stack.
export function desktopAlert({ title, body, url, tag }) {
  const looking = document.visibilityState === "visible" && document.hasFocus();
  if (looking || !hasNotifications() || window.Notification.permission !== "granted") return null;
  const href = safePath(url);
  const shown = new window.Notification(title, { body, tag, silent: true });
  shown.onclick = () => {
    window.focus();
    if (href) location.assign(href);
    shown.close();
  };
  return shown;
}

// A short two-note chime, when this person turned the sound on (Web Audio: no file to fetch).
export function chime() {
  if (localStorage.getItem(SOUND_KEY) !== "on") return;
  try {
    audio = audio || new AudioContext();
    const now = audio.currentTime;
    for (const [i, freq] of [880, 660].entries()) {
      const tone = audio.createOscillator();
      const gain = audio.createGain();
      tone.frequency.value = freq;
      gain.gain.setValueAtTime(0.08, now + i * 0.12);
      gain.gain.exponentialRampToValueAtTime(0.001, now + i * 0.12 + 0.25);
      tone.connect(gain).connect(audio.destination);
      tone.start(now + i * 0.12);
      tone.stop(now + i * 0.12 + 0.3);
    }
  } catch {
    // No audio here: the popup still shows.
  }
}

// The top bar's two switches: desktop alerts (the browser asks once, from this click) and the sound.
function wireSwitches() {
  const desktop = document.getElementById("desktop-alerts");
  if (desktop && hasNotifications()) {
    const show = () => {
      const state = window.Notification.permission;
      desktop.hidden = state === "granted";
      desktop.disabled = state === "denied";
      // Short words: the top bar is one line. The title says the whole of it.
      desktop.textContent = state === "denied" ? "Alerts blocked" : "Desktop alerts";
      desktop.title =
        state === "denied" ? "Allow notifications for this site in the browser's settings" : "Turn on desktop alerts";
    };
    show();
    desktop.addEventListener("click", async () => {
      await window.Notification.requestPermission();
      show();
    });
  }
  const sound = document.getElementById("alert-sound");
  if (sound) {
    const show = () => {
      const on = localStorage.getItem(SOUND_KEY) === "on";
      sound.setAttribute("aria-pressed", String(on));
      sound.textContent = on ? "Sound on" : "Sound off";
    };
    show();
    sound.addEventListener("click", () => {
      localStorage.setItem(SOUND_KEY, localStorage.getItem(SOUND_KEY) === "on" ? "off" : "on");
      show();
      chime(); // a sample, and the click lets the page play sound from now on
    });
  }
}
wireSwitches();
