// @mentions on every logged-in page: a popup (and a desktop alert) when a colleague mentions this
// person in a note, and the top bar's unread count, kept the same in every tab.

import { socket } from "./live.js";
import { chime, desktopAlert, showToast } from "./toasts.js";

const count = document.getElementById("nav-mentions-count");
const link = document.getElementById("nav-mentions");

// Show the unread count (hidden at zero).
function setCount(n) {
  if (!count) return;
  count.textContent = String(n);
  count.hidden = n <= 0;
  link?.setAttribute("aria-label", `Mentions, ${n} unread`);
}

socket.on("mention", (mention) => {
  if (!mention || !mention.by) return;
  setCount(Number(count?.textContent || 0) + 1);
  const url = `/journeys/${Number(mention.journey_id)}#message-${Number(mention.message_id)}`;
  // No ePHI: who mentioned you, not what the note says or whom it is about.
  const title = `${mention.by.name} mentioned you`;
  showToast({ title, snippet: "In an internal note. Open the thread to read it.", url, kind: "mention" });
  desktopAlert({ title, body: "In an internal note", url, tag: `mention-${mention.message_id}` });
  chime();
});

socket.on("mention.read", (payload) => {
  if (payload && typeof payload.unread === "number") setCount(payload.unread);
});
