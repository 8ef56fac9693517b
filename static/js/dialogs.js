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

// A confirmation dialog about one record: ask(id) opens it; confirming runs act(id) and closes it,
// or shows the server's reason inside the dialog.
export function createAsker(dialog, errorId, act) {
  let recordId = null;
  wireDialog(dialog, async () => {
    const button = dialog.querySelector("[type=submit]");
    button.disabled = true;
    try {
      await act(recordId);
      dialog.close();
    } catch (err) {
      dialogError(errorId, (err.data && err.data.error) || err.message);
    } finally {
      button.disabled = false;
    }
  });
  return {
    ask(id) {
      recordId = id;
      dialogError(errorId, null);
      dialog.showModal();
    },
  };
}
