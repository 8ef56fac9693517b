// Modal dialogs with a form: Cancel buttons close, submitting calls the handler.

// Wire a <dialog> holding a <form>: [data-close] buttons close it, submit calls onSubmit.
export function wireDialog(dialog, onSubmit) {
  dialog.querySelectorAll("[data-close]").forEach((b) => b.addEventListener("click", () => dialog.close()));
  dialog.querySelector("form").addEventListener("submit", (event) => {
    event.preventDefault();
    onSubmit();
  });
}

// Show an error line inside a dialog (or hide it with null).
export function dialogError(id, text) {
  const line = document.getElementById(id);
  line.textContent = text || "";
  line.hidden = !text;
}
