// The contact header's consent: badge, reason, opt-in request, manual opt-out/opt-in, history.

import { get, post } from "./api.js";
import { dialogError, wireDialog } from "./dialogs.js";
import { formatTime, sentence } from "./format.js";

const $ = (id) => document.getElementById(id);
const STATE_WORDS = { unknown: "No consent yet", pending: "Opt-in pending", opted_in: "Opted in", opted_out: "Opted out" };
// A ledger entry in the history: "unknown" there is evidence kept (a ticked web form awaiting YES).
const EVENT_WORDS = { ...STATE_WORDS, unknown: "Consent evidence kept" };
const SOURCE_WORDS = {
  web_form: "web form",
  phone_attestation: "phone, attested by staff",
  sms_keyword: "text keyword",
  sms_language: "text in their own words, confirmed by staff",
  carrier_error: "carrier (unsubscribed recipient)",
  staff_manual: "staff",
  opt_in_request: "opt-in request",
};
const spelledOut = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });

// "3 minutes ago", "5 hours ago": how long since an opt-in request, for the "send again?" question.
function ago(iso) {
  const seconds = Math.round((Date.parse(iso) - Date.now()) / 1000);
  if (seconds > -45) return "just now";
  if (seconds > -3600) return spelledOut.format(Math.round(seconds / 60), "minute");
  return spelledOut.format(Math.round(seconds / 3600), "hour");
}

// Create the consent controller; onChange(badge) runs whenever the badge changes.
export function createConsent({ journeyId, contactId, onChange }) {
  const shown = $("consent-badge").dataset;
  let badge = { state: shown.state, colour: shown.colour, reason: "", opt_in_requested_at: null };

  // Draw the badge, the reason (when not green), the last request time and the buttons' state.
  function render(next) {
    badge = { ...badge, ...next };
    const colour = badge.colour; // the server's rule (consent.badge), never re-derived here
    const el = $("consent-badge");
    el.className = `badge badge-${colour}`;
    el.dataset.state = badge.state;
    el.textContent =
      colour === "green" && badge.state !== "opted_in" ? "Consent implied" : STATE_WORDS[badge.state] || badge.state;
    el.title = sentence(badge.reason);
    $("consent-reason").textContent = colour === "green" ? "" : sentence(badge.reason);
    const asked = badge.opt_in_requested_at;
    const optedIn = badge.state === "opted_in"; // never "Opted in" beside "not sent yet": nothing to ask
    $("opt-in-sent").hidden = optedIn;
    $("opt-in-sent").textContent = asked
      ? `Opt-in request last sent ${formatTime(asked)}`
      : "Opt-in request not sent yet";
    $("consent-resend").hidden = optedIn;
    $("consent-resend").textContent = asked ? "Resend opt-in request" : "Send opt-in request";
    $("consent-resend").disabled = badge.state === "opted_out";
    $("consent-opt-out").disabled = badge.state === "opted_out";
    $("consent-opt-in").disabled = badge.state === "opted_in";
    if ($("consent-history").open) loadHistory();
    onChange?.(badge);
  }

  // Apply a consent.changed event (it carries the whole badge).
  function applyEvent(payload) {
    const { state, colour, reason, opt_in_requested_at } = payload;
    render({ state, colour, reason, opt_in_requested_at });
  }

  // Say what just happened (or went wrong) under the buttons.
  function say(text, isError = false) {
    const el = $("consent-status");
    el.textContent = text;
    el.classList.toggle("field-error", isError);
  }

  // Fill the "Consent history" list from the ledger.
  async function loadHistory() {
    const list = $("consent-events");
    try {
      const { events } = await get(`/api/contacts/${contactId}/consent`);
      const items = events.map((e) => {
        const li = document.createElement("li");
        const head = document.createElement("span");
        head.className = "consent-event-head";
        const who = e.actor ? ` by ${e.actor}` : "";
        const sid = e.message_sid ? ` · message ${e.message_sid}` : "";
        head.textContent = `${formatTime(e.created_at)} · ${EVENT_WORDS[e.state] || e.state} · ${SOURCE_WORDS[e.source] || e.source}${who}${sid}`;
        li.append(head);
        if (e.evidence) {
          const evidence = document.createElement("q");
          evidence.className = "consent-evidence";
          evidence.textContent = e.evidence;
          li.append(evidence);
        }
        return li;
      });
      if (!items.length) items.push(Object.assign(document.createElement("li"), { textContent: "No consent events yet." }));
      list.replaceChildren(...items);
    } catch (err) {
      list.replaceChildren(Object.assign(document.createElement("li"), { textContent: `Could not load: ${err.message}` }));
    }
  }

  // Staff (re)send the opt-in request; within a day of the last one the server asks them to confirm.
  async function resend(force = false) {
    const button = $("consent-resend");
    button.disabled = true;
    say("Sending the opt-in request…");
    try {
      const answer = await post(`/api/journeys/${journeyId}/opt-in-request`, force ? { force: true } : {});
      // Inside quiet hours it waits for the morning, and says until when.
      say(answer.message.not_before ? `Opt-in request ${answer.reason}.` : "Opt-in request queued.");
    } catch (err) {
      if (err.status === 409 && err.data.last_sent_at) {
        say("");
        $("resend-question").textContent = `Opt-in request sent ${ago(err.data.last_sent_at)}: send again?`;
        $("resend-dialog").showModal();
      } else {
        say(sentence(err.data.reason || err.message), true);
      }
    } finally {
      button.disabled = badge.state === "opted_out";
    }
  }

  // Record an opt-out (any time) with an optional note.
  async function recordOptOut() {
    try {
      const note = $("optout-note").value.trim() || undefined;
      const { consent } = await post(`/api/contacts/${contactId}/consent`, { state: "opted_out", note });
      render(consent);
      $("optout-dialog").close();
      say("Opt-out recorded.");
    } catch (err) {
      dialogError("optout-error", err.message);
    }
  }

  // Record a phone opt-in with the attestation sentence; a 422 brings the server's sentence.
  async function recordOptIn() {
    const attestation = $("optin-sentence").textContent.trim();
    try {
      const { consent } = await post(`/api/contacts/${contactId}/consent`, { state: "opted_in", attestation });
      render(consent);
      $("optin-dialog").close();
      say("Phone opt-in recorded.");
    } catch (err) {
      if (err.status === 422 && err.data.attestation) {
        $("optin-sentence").textContent = err.data.attestation;
        $("optin-confirm").checked = false;
        $("optin-submit").disabled = true;
        dialogError("optin-error", "The wording has changed: read this sentence to the caller and confirm again.");
      } else {
        dialogError("optin-error", err.message);
      }
    }
  }

  $("consent-resend").addEventListener("click", () => resend());
  $("consent-opt-out").addEventListener("click", () => {
    dialogError("optout-error", null);
    $("optout-note").value = "";
    $("optout-dialog").showModal();
  });
  $("consent-opt-in").addEventListener("click", () => {
    dialogError("optin-error", null);
    $("optin-confirm").checked = false;
    $("optin-submit").disabled = true;
    $("optin-dialog").showModal();
  });
  $("optin-confirm").addEventListener("change", (e) => {
    $("optin-submit").disabled = !e.currentTarget.checked;
  });
  wireDialog($("resend-dialog"), () => {
    $("resend-dialog").close();
    resend(true);
  });
  wireDialog($("optout-dialog"), recordOptOut);
  wireDialog($("optin-dialog"), recordOptIn);
  $("consent-history").addEventListener("toggle", (e) => {
    if (e.currentTarget.open) loadHistory();
  });

  return {
    render,
    applyEvent,
    get badge() {
      return badge;
    },
  };
}
