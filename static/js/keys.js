// The workspace's keyboard shortcuts. None fires while the user types (a text box, a select, an
// editable area), with a modifier held, or while a dialog is open; Esc leaves a text box.

const TYPING = "input, textarea, select, [contenteditable]:not([contenteditable='false'])";

// Is the key meant for what has the focus rather than for us?
function typing(event) {
  const target = event.target;
  return Boolean(target instanceof Element && target.closest(TYPING));
}

// Run actions[key] for single-key shortcuts: { j: fn, k: fn, "?": fn, ... }.
export function initKeys(actions) {
  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
    if (event.key === "Escape" && typing(event) && event.target.id !== "search-box") {
      event.target.blur(); // out of the composer: the shortcuts work again
      return;
    }
    if (typing(event) || document.querySelector("dialog[open]")) return;
    const action = actions[event.key];
    if (!action) return;
    event.preventDefault();
    action();
  });
}
