// The composer: free text or a template, a live preview (placeholders, segments, consent decision), Send;
// or, in "Internal note" mode, a note for staff only with @mentions (never texted, no preview).

import { get, post } from "./api.js";
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
  const notes = createNoteMode({ journeyId, body, onChange: () => modeChanged() });

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
    if (notes.on) {
      send.disabled = sending || !body.value.trim();
      return;
    }
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
    if (notes.on || !text.trim()) {
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

  // The mode changed: the decision line and preview belong to replies only.
  function modeChanged() {
    showError("");
    send.textContent = notes.on ? "Add note" : "Send";
    $("composer-template").hidden = notes.on;
    preview();
  }

  // Keep the note; on failure keep the words and say why.
  async function submitNote(text) {
    try {
      const { message } = await post(`/api/journeys/${journeyId}/notes`, { body: text, mentions: notes.mentions(text) });
      thread.upsert(message);
      if (body.value === text) body.value = "";
      notes.reset();
    } catch (err) {
      showError(`Note not added: ${sentence(err.message)}`);
    }
  }

  // Send the text, or add the note in note mode (`extra` may hold a `send_at` for a follow-up that
  // waits; notes are never scheduled); on 409 keep it and say why.
  async function submit(extra = {}) {
    const text = body.value;
    if (!text.trim() || send.disabled) return false;
    if (notes.on) {
      if (Object.keys(extra).length) return false;
      sending = true;
      updateSend();
      await submitNote(text);
      sending = false;
      updateSend();
      return true;
    }
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
    if (notes.handleKey(event)) return; // the @ menu took the key
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
    canSend: () => !send.disabled && !notes.on, // a note is never scheduled
  };
}

// --- internal notes and @mentions -------------------------------------------------------------

// The "Reply / Internal note" switch and the @ menu of the practice's staff. `mentions(text)` gives the
// ids of the people picked from the menu whose "@Name" is still in the text.
function createNoteMode({ body, onChange }) {
  const form = $("composer");
  const menu = $("mention-menu");
  const hint = $("composer-note-hint");
  const chosen = new Map(); // "@Name" -> staff id
  let staff = null; // loaded on the first @
  let matches = [];
  let active = 0;
  let on = false;

  // Switch between a reply and a note.
  function setMode(note) {
    on = note;
    form.classList.toggle("composer-is-note", note);
    hint.hidden = !note;
    $("composer-label").textContent = note ? "Internal note" : "Message";
    body.placeholder = note ? "Only staff see this. Type @ to mention a colleague." : "";
    if (!note) close();
    onChange();
  }
  for (const radio of form.querySelectorAll('input[name="composer-mode"]')) {
    radio.addEventListener("change", () => setMode(radio.value === "note" && radio.checked));
  }

  // The "@word" being typed just before the caret, or null.
  function query() {
    const before = body.value.slice(0, body.selectionStart);
    const match = /(?:^|\s)@([^\s@]{0,30})$/.exec(before);
    return match ? match[1] : null;
  }

  function close() {
    menu.hidden = true;
    menu.replaceChildren();
    body.removeAttribute("aria-activedescendant");
    matches = [];
  }

  // Show the staff whose name starts (any word) with what follows the @.
  async function update() {
    const q = on ? query() : null;
    if (q === null) return close();
    if (!staff) {
      try {
        staff = (await get("/api/staff")).staff;
      } catch {
        staff = [];
      }
    }
    const needle = q.toLowerCase();
    matches = staff.filter((u) => u.name.toLowerCase().split(/\s+/).some((w) => w.startsWith(needle)) || u.name.toLowerCase().startsWith(needle)).slice(0, 8);
    if (!matches.length) return close();
    active = Math.min(active, matches.length - 1);
    menu.replaceChildren(
      ...matches.map((u, i) => {
        const li = document.createElement("li");
        li.id = `mention-option-${u.id}`;
        li.className = `mention-option${i === active ? " is-active" : ""}`;
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", String(i === active));
        li.textContent = u.name;
        li.addEventListener("mousedown", (event) => {
          event.preventDefault(); // keep the focus in the text
          pick(u);
        });
        return li;
      }),
    );
    menu.hidden = false;
    body.setAttribute("aria-activedescendant", `mention-option-${matches[active].id}`);
  }

  // Put "@Name " in place of the "@word" being typed and remember who it is.
  function pick(user) {
    const caret = body.selectionStart;
    const before = body.value.slice(0, caret).replace(/@([^\s@]{0,30})$/, `@${user.name} `);
    body.value = before + body.value.slice(caret);
    body.selectionStart = body.selectionEnd = before.length;
    chosen.set(`@${user.name}`, user.id);
    close();
    body.dispatchEvent(new Event("input"));
  }

  // Arrow keys move in the menu, Enter or Tab picks, Escape closes; true when the menu used the key.
  function handleKey(event) {
    if (menu.hidden || !matches.length) return false;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      active = (active + (event.key === "ArrowDown" ? 1 : matches.length - 1)) % matches.length;
      update();
    } else if (event.key === "Enter" || event.key === "Tab") {
      pick(matches[active]);
    } else if (event.key === "Escape") {
      close();
    } else {
      return false;
    }
    event.preventDefault();
    return true;
  }

  body.addEventListener("input", () => {
    active = 0;
    update();
  });
  // Leaving the text closes the menu, a moment later (a click on an option lands first); coming back
  // before then keeps it: a stale close once hid the menu the person had just opened.
  let blurTimer = 0;
  body.addEventListener("blur", () => {
    blurTimer = setTimeout(() => {
      if (document.activeElement !== body) close();
    }, 150);
  });
  body.addEventListener("focus", () => clearTimeout(blurTimer));

  return {
    get on() {
      return on;
    },
    handleKey,
    mentions: (text) => [...new Set([...chosen].filter(([name]) => text.includes(name)).map(([, id]) => id))],
    reset: () => chosen.clear(),
  };
}
