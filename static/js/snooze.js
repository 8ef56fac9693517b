// The journey header's snooze and mark-unread controls; each is one API call.

import { patch, post } from "./api.js";
import { formatTime, isoToWallClock, wallClockToIso } from "./format.js";

const $ = (id) => document.getElementById(id);
const HOUR = 3600 * 1000;

// Today's date on the practice's clock, as noon UTC (safe to step by whole days).
function practiceToday() {
  return new Date(`${isoToWallClock(new Date().toISOString()).slice(0, 10)}T12:00:00Z`);
}

// 8:00 AM on the practice's clock, `days` days from today (1 = tomorrow).
function morning(days) {
  const day = practiceToday();
  day.setUTCDate(day.getUTCDate() + days);
  return wallClockToIso(`${day.toISOString().slice(0, 10)}T08:00`);
}

// Days from today to next Monday on the practice's clock (1 to 7).
function toMonday() {
  return (8 - practiceToday().getUTCDay()) % 7 || 7;
}

// Create the header controller; render(journey) shows whether it is snoozed now.
export function createSnooze(journeyId) {
  const state = $("snooze-state");
  const wake = $("snooze-wake");
  const picker = $("snooze-picker");
  const status = $("snooze-status");

  // Say what happened to the last action.
  function say(text, isError = false) {
    status.textContent = text;
    status.classList.toggle("field-error", isError);
  }

  // Snoozed or not, as the journey says now.
  function render(journey) {
    if (!journey || !("snoozed_until" in journey)) return;
    const until = journey.snoozed_until;
    const snoozed = Boolean(until) && Date.parse(until) > Date.now();
    state.hidden = wake.hidden = !snoozed;
    state.textContent = snoozed ? `Snoozed until ${formatTime(until)}` : "";
    picker.hidden = snoozed;
  }

  // One PATCH; null brings the journey back now.
  async function snooze(until) {
    say("Saving…");
    try {
      const { journey } = await patch(`/api/journeys/${journeyId}`, { snoozed_until: until });
      render(journey);
      say(until ? "Snoozed: it is out of the inbox until then, or until the contact texts." : "Back in the inbox.");
      picker.open = false;
    } catch (err) {
      say(`Not saved: ${err.message}`, true);
    }
  }

  const presets = {
    hour: () => new Date(Date.now() + HOUR).toISOString(),
    tomorrow: () => morning(1),
    monday: () => morning(toMonday()),
  };
  for (const button of picker.querySelectorAll("[data-snooze]")) {
    button.addEventListener("click", () => snooze(presets[button.dataset.snooze]()));
  }
  $("snooze-custom-go").addEventListener("click", () => {
    const iso = wallClockToIso($("snooze-custom").value);
    if (!iso) return say("Pick a date and time first.", true);
    snooze(iso);
  });
  wake.addEventListener("click", () => snooze(null));

  // Mark unread: the badge comes back for me only; back to the list, where it shows bold.
  $("mark-unread").addEventListener("click", async () => {
    try {
      await post(`/api/journeys/${journeyId}/unread`);
      window.location.assign($("journey-back").href);
    } catch (err) {
      say(`Not marked unread: ${err.message}`, true);
    }
  });

  return { render };
}
