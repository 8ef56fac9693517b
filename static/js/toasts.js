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

// --- desktop notifications and the alert sounds --------------------------------------------------

const SOUND_KEY = "inbox.alertSound"; // the ordinary text's chime: off until the person turns it on
const SAFETY_SOUND_KEY = "inbox.safetySound"; // the safety alarm: on until the person turns it off
let audio = null;

// Can this browser show desktop notifications at all?
function hasNotifications() {
  return typeof window.Notification === "function";
}

// Follow a same-site link as a click on it would: the workspace opens a journey in its pane without a
// page load (panes.js listens for link clicks), any other page simply goes there.
export function openPath(href) {
  const link = document.createElement("a");
  link.href = href;
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
}

// A desktop notification for a popup, when this browser may show one and nobody is looking at the
// page. Its words are ePHI-free: they appear on lock screens and in the system's notification list.
// `tag` makes the other tabs' copy of the same alert replace this one rather than stack. A `persistent`
// one (a safety alert) stays until clicked and replaces the ordinary one of the same text with a sound
// of its own; it keeps the system's sound only when `silent` is false (the page cannot play its own).
export function desktopAlert({ title, body, url, tag, persistent = false, silent = true }) {
  const looking = document.visibilityState === "visible" && document.hasFocus();
  if (looking || !hasNotifications() || window.Notification.permission !== "granted") return null;
  const href = safePath(url);
  const options = { body, tag, silent };
  if (persistent) Object.assign(options, { requireInteraction: true, renotify: Boolean(tag) });
  const shown = new window.Notification(title, options);
  shown.onclick = () => {
    window.focus();
    if (href) openPath(href);
    shown.close();
  };
  return shown;
}

// The page's one AudioContext. Browsers start it suspended until the person has used the page once,
// so the first click or key press anywhere resumes it: a later alarm then plays in a background tab.
function audioContext() {
  audio = audio || new AudioContext();
  if (audio.state === "suspended") audio.resume().catch(() => {});
  return audio;
}

function unlockAudio() {
  try {
    audioContext();
  } catch {
    // No Web Audio here: popups and notifications still show.
  }
}
document.addEventListener("pointerdown", unlockAudio, { capture: true, once: true });
document.addEventListener("keydown", unlockAudio, { capture: true, once: true });

// Play `notes` ([start s, length s, Hz, volume]) on one waveform (Web Audio: no file to fetch).
// Returns whether the page can be heard now (false while the browser holds its audio back).
function play(wave, notes) {
  try {
    const ctx = audioContext();
    const now = ctx.currentTime;
    for (const [at, length, freq, volume] of notes) {
      const tone = ctx.createOscillator();
      const gain = ctx.createGain();
      tone.type = wave;
      tone.frequency.value = freq;
      gain.gain.setValueAtTime(volume, now + at);
      gain.gain.exponentialRampToValueAtTime(0.001, now + at + length);
      tone.connect(gain).connect(ctx.destination);
      tone.start(now + at);
      tone.stop(now + at + length + 0.05);
    }
    return ctx.state === "running";
  } catch {
    return false; // no audio here: the popup still shows
  }
}

// A short two-note chime for an ordinary text, when this person turned the sound on.
export function chime() {
  if (!soundOn(SOUND_KEY, false)) return;
  play("sine", [
    [0, 0.25, 880, 0.08],
    [0.12, 0.25, 660, 0.08],
  ]);
}

// The safety alarm: a harsh two-tone warble, three times over (about two seconds), unlike any chime.
// On unless this person turned it off. Returns whether it could be heard.
export function alarm() {
  if (!safetySoundOn()) return false;
  const notes = [];
  for (let i = 0; i < 6; i += 1) notes.push([i * 0.33, 0.3, i % 2 ? 740 : 988, 0.12]);
  return play("square", notes);
}

// Has this person left the safety alarm on (the default)?
export function safetySoundOn() {
  return soundOn(SAFETY_SOUND_KEY, true);
}

// Is a sound on? Each person's choice, kept in this browser; `byDefault` until they choose.
function soundOn(key, byDefault) {
  const chosen = localStorage.getItem(key);
  return chosen === "on" || (byDefault && chosen !== "off");
}

// A sound's checkbox in the top bar's Sounds menu; `sample` plays once it is ticked (and the tick
// lets the page play sound from now on).
function wireSoundSwitch(box, key, byDefault, sample) {
  if (!box) return;
  box.checked = soundOn(key, byDefault);
  box.addEventListener("change", () => {
    localStorage.setItem(key, box.checked ? "on" : "off");
    showSoundsLabel();
    if (box.checked) sample();
  });
}

// The menu's label warns while this person has the safety alarm off.
function showSoundsLabel() {
  const label = document.getElementById("sound-prefs-label");
  if (!label) return;
  label.textContent = safetySoundOn() ? "Sounds" : "Sounds: alarm off";
  label.classList.toggle("sound-prefs-off", !safetySoundOn());
}

// The top bar's switches: desktop alerts (the browser asks once, from this click), and the Sounds menu
// with the text chime and the safety alarm (each person's own, kept in this browser).
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
  wireSoundSwitch(document.getElementById("alert-sound"), SOUND_KEY, false, chime);
  wireSoundSwitch(document.getElementById("safety-sound"), SAFETY_SOUND_KEY, true, alarm);
  showSoundsLabel();
  // The menu closes when the person clicks anywhere else.
  const menu = document.getElementById("sound-prefs");
  document.addEventListener("click", (event) => {
    if (menu?.open && !menu.contains(event.target)) menu.open = false;
  });
}
wireSwitches();
