// The top bar's count of opt-out requests waiting for staff, kept live on every page.

import { onEvent } from "./live.js";

const count = document.getElementById("nav-optouts-count");

// Show how many wait (hidden at zero), for eyes and for screen readers.
export function showOpenCount(open) {
  if (!count) return;
  count.textContent = String(open);
  count.hidden = !open;
  count.closest("a")?.setAttribute("aria-label", `Opt-out requests, ${open} to confirm`);
}

onEvent("opt_out_requests.changed", ({ open }) => showOpenCount(open));
