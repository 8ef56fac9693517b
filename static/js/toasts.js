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

  container.prepend(toast);
  while (container.children.length > MAX_TOASTS) dismiss(container.lastElementChild);
  arm(toast);
  return toast;
}
