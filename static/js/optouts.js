// The "Opt-out requests to confirm" page: each text with its business days left; confirm or dismiss.

import { get, post } from "./api.js";
import { createAsker } from "./dialogs.js";
import { onConnect, onEvent } from "./live.js";
import { formatTime } from "./format.js";
import { showOpenCount } from "./optouts-count.js";

const $ = (id) => document.getElementById(id);

// "7 business days left", "Due today", "Overdue by 2 business days".
function daysLeft(n) {
  const days = (k) => `${k} business day${k === 1 ? "" : "s"}`;
  if (n > 0) return `${days(n)} left`;
  if (n === 0) return "Due today";
  return `Overdue by ${days(-n)}`;
}

// Say what just happened (or went wrong) above the list.
function say(text, isError = false) {
  $("optouts-status").textContent = text;
  $("optouts-status").classList.toggle("field-error", isError);
}

// One request: the text in quotes, who and when, the deadline, and the two decisions.
function row(r) {
  const li = document.createElement("li");
  li.className = "optout card";
  li.dataset.requestId = r.id;
  const head = document.createElement("p");
  head.className = "optout-head";
  const who = Object.assign(document.createElement("a"), { href: r.url, textContent: r.contact });
  const when = Object.assign(document.createElement("span"), {
    className: "muted small",
    textContent: ` · ${r.phone} · received ${formatTime(r.received_at)}`,
  });
  const left = Object.assign(document.createElement("span"), {
    className: `optout-left${r.business_days_left <= 2 ? " is-urgent" : ""}`,
    textContent: daysLeft(r.business_days_left),
  });
  left.title = `Honour by ${r.due_on}`;
  head.append(who, when, left);
  const text = Object.assign(document.createElement("q"), { className: "optout-body", textContent: r.body });
  const actions = document.createElement("div");
  actions.className = "optout-actions";
  const confirm = Object.assign(document.createElement("button"), {
    type: "button",
    className: "btn btn-danger optout-confirm",
    textContent: "Confirm opt-out",
  });
  confirm.addEventListener("click", () => confirmRequest(r, confirm));
  const dismiss = Object.assign(document.createElement("button"), {
    type: "button",
    className: "btn optout-dismiss",
    textContent: "Not an opt-out…",
  });
  dismiss.addEventListener("click", () => {
    $("dismiss-reason").value = "";
    dismissing.ask(r.id);
  });
  actions.append(confirm, dismiss);
  li.append(head, text, actions);
  return li;
}

// Fill the list from the API (on load, on reconnect, and whenever the count changes).
async function load() {
  const list = $("optouts-list");
  try {
    const { requests, open } = await get("/api/opt-out-requests");
    list.replaceChildren(...requests.map(row));
    $("optouts-empty").hidden = requests.length > 0;
    showOpenCount(open);
  } catch (err) {
    say(`Could not load the requests: ${err.message}`, true);
  } finally {
    list.setAttribute("aria-busy", "false");
  }
}

// Record the opt-out; the server sends the one confirmation text (unless Twilio's number does).
async function confirmRequest(r, button) {
  button.disabled = true;
  try {
    const { confirmation_id } = await post(`/api/opt-out-requests/${r.id}/confirm`);
    say(`${r.contact} is opted out.${confirmation_id ? " The confirmation text is on its way." : ""}`);
    await load();
  } catch (err) {
    say(err.message, true);
    button.disabled = false;
    await load();
  }
}

const dismissing = createAsker($("dismiss-dialog"), "dismiss-error", async (id) => {
  await post(`/api/opt-out-requests/${id}/dismiss`, { reason: $("dismiss-reason").value.trim() });
  say("Dismissed: the reason is kept with your name.");
  await load();
});

onEvent("opt_out_requests.changed", () => load());
onConnect((isReconnect) => {
  if (isReconnect) load();
});
load();
