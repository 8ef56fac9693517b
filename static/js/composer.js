// The composer: free text or a template, a live preview (placeholders, segments, consent decision), Send.

import { post } from "./api.js";
import { debounce, sentence } from "./format.js";

const $ = (id) => document.getElementById(id);

// The decision in words: "Will send now", or the hold / delay / block reason.
function decisionWords(decision) {
  const reason = sentence(decision.reason);
  switch (decision.action) {
    case "send":
      return "Will send now";
    case "hold":
      return reason.toLowerCase().startsWith("held") ? reason : `Will be held: ${decision.reason}`;
    case "delay":
      return `Will wait: ${decision.reason}`;
    case "block":
      return reason.toLowerCase().startsWith("blocked") ? reason : `Blocked: ${decision.reason}`;
    default:
      return reason;
  }
}

// Create the composer; thread.upsert shows a sent message at once; getBadge() gives consent.
export function createComposer({ journeyId, thread, getBadge }) {
  const form = $("composer");
  const body = $("composer-body");
  const send = $("composer-send");
  const decisionEl = $("composer-decision");
  const errorEl = $("composer-error");
  let previewSeq = 0;
  let action = null; // the last preview's decision action
  let placeholderError = false;
  let sending = false;

  // Show (or clear with "") the inline error.
  function showError(text) {
    errorEl.textContent = text;
    errorEl.hidden = !text;
  }

  // Show the decision line with a class per action (send / hold / delay / block).
  function showDecision(text, kind) {
    decisionEl.textContent = text;
    decisionEl.className = `decision${kind ? ` decision-${kind}` : ""}`;
    decisionEl.dataset.action = kind || "";
  }

  // Enable Send only for a non-empty text that the last preview did not block.
  function updateSend() {
    const blocked = action === "block" || (!body.value.trim() && getBadge().state === "opted_out");
    send.disabled = sending || !body.value.trim() || blocked || placeholderError;
  }

  // With an empty composer, say why texting is off for an opted-out contact.
  function idleDecision() {
    const badge = getBadge();
    if (badge.state === "opted_out") showDecision(`Blocked: ${badge.reason || "the contact opted out"}`, "block");
    else showDecision("", null);
  }

  // Ask the server what this text becomes and what sending would do now.
  async function preview() {
    const text = body.value;
    const seq = ++previewSeq;
    if (!text.trim()) {
      $("composer-preview").hidden = true;
      $("composer-count").textContent = "";
      action = null;
      placeholderError = false;
      showError("");
      idleDecision();
      updateSend();
      return;
    }
    try {
      const result = await post(`/api/journeys/${journeyId}/preview`, { body: text });
      if (seq !== previewSeq) return; // an older answer arriving late
      placeholderError = false;
      showError("");
      $("composer-preview-body").textContent = result.body;
      $("composer-preview").hidden = result.body === text;
      const { characters, count, encoding } = result.segments;
      $("composer-count").textContent =
        `${characters} character${characters === 1 ? "" : "s"} · ${count} segment${count === 1 ? "" : "s"} (${encoding})`;
      action = result.decision.action;
      showDecision(decisionWords(result.decision), action);
    } catch (err) {
      if (seq !== previewSeq) return;
      placeholderError = err.status === 422;
      showError(sentence(err.message));
      $("composer-preview").hidden = true;
    }
    updateSend();
  }
  const schedulePreview = debounce(preview, 300);

  // Send the text (`extra` may hold a `send_at` for a follow-up that waits); on 409 keep it and say why.
  async function submit(extra = {}) {
    const text = body.value;
    if (!text.trim() || send.disabled) return false;
    sending = true;
    updateSend();
    showError("");
    try {
      const { message } = await post(`/api/journeys/${journeyId}/messages`, { body: text, ...extra });
      thread.upsert(message);
      if (body.value === text) body.value = "";
      $("composer-template").value = "";
      await preview();
      return true;
    } catch (err) {
      if (err.status === 409) {
        // Consent changed under us: the reason replaces the (now stale) decision line.
        action = "block";
        showDecision(sentence(err.data.reason || err.message), "block");
        showError("Not sent. Your text is kept below.");
      } else {
        showError(`Not sent: ${sentence(err.message)}`);
      }
    } finally {
      sending = false;
      updateSend();
    }
    return false;
  }

  body.addEventListener("input", () => {
    updateSend();
    schedulePreview();
  });
  body.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      submit();
    }
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit();
  });
  $("composer-template").addEventListener("change", (event) => {
    const option = event.currentTarget.selectedOptions[0];
    if (!option || !option.value) return;
    body.value = option.dataset.body || "";
    body.focus();
    preview();
  });

  idleDecision();
  return {
    // Consent changed: what sending would do may have changed too.
    refresh: () => preview(),
    // Send later (send-later.js): the same path as Send, with the time; true when stored.
    schedule: (sendAt) => submit({ send_at: sendAt }),
    canSend: () => !send.disabled,
  };
}
