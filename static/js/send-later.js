// Send later: "Send at 8:00 AM" while quiet hours are on, or a time staff pick; the composer stores it as
// a scheduled follow-up, and the consent rules decide when it is due.

import { formatTime, wallClockToIso } from "./format.js";

const $ = (id) => document.getElementById(id);

// Wire the send-later controls to a composer (createComposer's schedule/canSend).
export function createSendLater(composer) {
  const box = $("send-later");
  const morning = $("send-morning");
  const picker = $("send-later-custom");
  const at = $("send-later-at");
  const status = $("send-later-status");
  const quietUntil = box.dataset.quietUntil;

  // Offer the morning only while the night lasts (a page left open overnight stops offering it).
  function offerMorning() {
    morning.hidden = !quietUntil || Date.parse(quietUntil) <= Date.now();
  }

  // Say what happened (or why nothing did).
  function say(text) {
    status.textContent = text;
  }

  // Schedule the composed text for an ISO time.
  async function schedule(iso) {
    if (!composer.canSend()) return say("Write a message first.");
    say("");
    if (await composer.schedule(iso)) {
      say(`Scheduled for ${formatTime(iso)}. It shows in the thread until it goes; you can cancel it there.`);
      picker.open = false;
      at.value = "";
    }
  }

  morning.addEventListener("click", () => schedule(quietUntil));
  $("send-later-go").addEventListener("click", () => {
    const iso = wallClockToIso(at.value);
    if (!iso) return say("Pick a date and time first.");
    schedule(iso);
  });
  offerMorning();
  setInterval(offerMorning, 60000);
}
