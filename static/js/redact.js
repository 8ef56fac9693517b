// Admins redact a message: confirm in a dialog, then the thread shows the tombstone.

import { post } from "./api.js";
import { dialogError, wireDialog } from "./dialogs.js";
import { sentence } from "./format.js";

// Create the redactor; ask(messageId) opens the confirmation, onRedacted(message) updates the thread.
export function createRedactor(dialog, onRedacted) {
  let messageId = null;

  async function confirm() {
    const button = dialog.querySelector("[type=submit]");
    button.disabled = true;
    try {
      const { message, twilio_problems: problems } = await post(`/api/messages/${messageId}/redact`);
      onRedacted(message);
      if (problems.length) {
        // Destroyed here; Twilio's copies need another try (the admin is told, not left guessing).
        dialogError("redact-error", `Redacted here. Twilio's copy could not be deleted: ${problems.join("; ")}.`);
        return;
      }
      dialog.close();
    } catch (err) {
      dialogError("redact-error", sentence(err.data?.error || err.message));
    } finally {
      button.disabled = false;
    }
  }

  wireDialog(dialog, confirm);
  return {
    ask(id) {
      messageId = id;
      dialogError("redact-error", null);
      dialog.showModal();
    },
  };
}
