// The journey panel: pathway, stage, assignee, open/closed; each change is one PATCH.

import { patch, post, put } from "./api.js";
import { formatTime, isoToWallClock, parseTime, wallClockToIso } from "./format.js";
import { createSnooze } from "./snooze.js";

const DAY = 24 * 3600 * 1000; // the paperwork reminder goes a day before it is due (automations.py)

const $ = (id) => document.getElementById(id);

// Create the panel controller for one journey of a contact.
export function createDetails(journeyId, contactId) {
  const pathway = $("journey-pathway");
  const stage = $("journey-stage");
  const assignee = $("journey-assignee");
  const toggle = $("journey-toggle-open");
  const appointment = $("journey-appointment");
  const paperwork = $("journey-paperwork");
  const status = $("journey-save-status");
  const snooze = createSnooze(journeyId); // the header's snooze and mark-unread controls
  let current = {
    pathway: pathway.value,
    stage: stage.value,
    assignee_id: assignee.value ? Number(assignee.value) : null,
    is_open: toggle.dataset.open === "1",
  };

  // Show the journey's values (a field the user is editing right now is left alone).
  function render(journey) {
    current = { ...current, ...journey };
    if (document.activeElement !== pathway) pathway.value = current.pathway;
    if (document.activeElement !== stage) stage.value = current.stage;
    if (document.activeElement !== assignee) assignee.value = current.assignee_id == null ? "" : String(current.assignee_id);
    const open = Boolean(current.is_open);
    toggle.dataset.open = open ? "1" : "0";
    toggle.textContent = open ? "Close journey" : "Reopen journey";
    const tag = $("journey-open-state");
    tag.textContent = open ? "Open" : "Closed";
    tag.className = `tag ${open ? "tag-open" : "tag-closed"}`;
    // The way back leads to the pathway the journey is in now.
    const back = $("journey-back");
    back.href = `/?pathway=${encodeURIComponent(current.pathway)}`;
    back.textContent = `← Back to ${current.pathway_label || pathway.selectedOptions[0]?.textContent || "Inbox"}`;
    if (document.activeElement !== appointment) appointment.value = isoToWallClock(current.appointment_at);
    if (document.activeElement !== paperwork) paperwork.value = isoToWallClock(current.paperwork_due_at);
    explainAutomations();
    snooze.render(journey);
  }

  // Say when each automated text goes (or that its template is off).
  function explainAutomations() {
    const appointmentPlan = $("appointment-plan");
    const paperworkPlan = $("paperwork-plan");
    if (appointmentPlan.dataset.auto !== "1") {
      appointmentPlan.textContent = "The appointment confirmation template is off: no text goes.";
    } else if (current.appointment_at) {
      appointmentPlan.textContent = `Set for ${formatTime(current.appointment_at)}. Saving a new time texts a confirmation at once (after quiet hours, once opted in).`;
    } else {
      appointmentPlan.textContent = "Saving a time texts a confirmation at once (after quiet hours, once opted in).";
    }
    const due = parseTime(current.paperwork_due_at);
    if (paperworkPlan.dataset.auto !== "1") {
      paperworkPlan.textContent = "The paperwork reminder template is off: no text goes.";
    } else if (due) {
      const at = new Date(Math.max(due.getTime() - DAY, Date.now()));
      paperworkPlan.textContent =
        due.getTime() <= Date.now()
          ? "Already due: no reminder goes."
          : `The reminder goes ${formatTime(at.toISOString())} (after quiet hours, once opted in).`;
    } else {
      paperworkPlan.textContent = "A reminder goes a day before the due date.";
    }
  }

  // Say what happened to the last change.
  function say(text, isError = false) {
    status.textContent = text;
    status.classList.toggle("field-error", isError);
  }

  // Send one change; on failure put the old value back and say why.
  async function save(changes, doneText) {
    say("Saving…");
    try {
      const { journey } = await patch(`/api/journeys/${journeyId}`, changes);
      render(journey);
      say(doneText);
    } catch (err) {
      render({});
      say(`Not saved: ${err.message}`, true);
    }
  }

  pathway.addEventListener("change", () =>
    save({ pathway: pathway.value }, `Moved to ${pathway.selectedOptions[0].textContent}.`),
  );
  assignee.addEventListener("change", () =>
    save(
      { assignee_id: assignee.value ? Number(assignee.value) : null },
      assignee.value ? `Assigned to ${assignee.selectedOptions[0].textContent}.` : "Unassigned.",
    ),
  );
  $("stage-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const value = stage.value.trim();
    if (!value) return say("The stage cannot be empty.", true);
    if (value !== current.stage) save({ stage: value }, "Stage saved.");
  });
  $("dates-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const changes = {};
    for (const [field, input] of [["appointment_at", appointment], ["paperwork_due_at", paperwork]]) {
      const value = input.value ? wallClockToIso(input.value) : null;
      const was = current[field] ? new Date(current[field]).toISOString() : null;
      if (value !== was) changes[field] = value;
    }
    if (!Object.keys(changes).length) return say("Nothing changed.");
    save(changes, "Dates saved.");
  });
  toggle.addEventListener("click", () =>
    save({ is_open: !current.is_open }, current.is_open ? "Journey closed." : "Journey reopened."),
  );

  // The contact's own clock for quiet hours: a stored zone, or (empty) the one their number implies.
  const timeZone = $("contact-time-zone");
  let savedZone = timeZone.value;
  timeZone.addEventListener("change", async () => {
    say("Saving…");
    try {
      const { quiet } = await put(`/api/contacts/${contactId}/time-zone`, { time_zone: timeZone.value || null });
      savedZone = timeZone.value;
      $("contact-quiet").textContent = quiet;
      say(`Time zone saved: ${timeZone.selectedOptions[0].textContent}.`);
    } catch (err) {
      timeZone.value = savedZone;
      say(`Not saved: ${err.message}`, true);
    }
  });

  // Start another journey for the same contact, then go to it.
  $("new-journey-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    say("Starting…");
    try {
      const { url } = await post(`/api/contacts/${contactId}/journeys`, { pathway: $("new-journey-pathway").value });
      window.location.assign(url);
    } catch (err) {
      say(`Not started: ${err.message}`, true);
    }
  });

  return { render };
}

// --- the contact header: naming and correcting the contact, and who else has the thread open -------

const CONTACT_FIELDS = ["first_name", "last_name", "email", "guardian_name", "guardian_phone", "preferred_language"];

// The contact's name in the header, the "Add name" / "Edit contact" dialog (one PATCH of what changed),
// and the "Also viewing" line; render(contact) takes a contact.updated push from any tab.
export function createContactHeader(contactId, userId) {
  const dialog = $("contact-dialog");
  const form = $("contact-form");
  const error = $("contact-error");
  const name = $("contact-name");
  const editButton = $("contact-edit");
  let saved = Object.fromEntries(CONTACT_FIELDS.map((f) => [f, form.elements[f].value]));

  // Show the contact as the server has it now (a dialog being filled in keeps its words).
  function render(contact) {
    if (!contact || Number(contact.id) !== contactId) return;
    const named = Boolean(contact.name);
    name.textContent = named ? contact.name : contact.phone;
    name.dataset.named = named ? "1" : "0";
    editButton.textContent = named ? "Edit contact" : "Add name";
    showMeta("contact-guardian", contact.guardian ? `Guardian: ${contact.guardian}` : "");
    showMeta("contact-language", contact.preferred_language_label ? `Prefers ${contact.preferred_language_label}` : "");
    saved = Object.fromEntries(CONTACT_FIELDS.map((f) => [f, contact[f] || ""]));
    if (!dialog.open) for (const f of CONTACT_FIELDS) form.elements[f].value = saved[f];
  }

  // A header detail and the dot before it, hidden when empty.
  function showMeta(id, text) {
    const span = $(id);
    span.textContent = text;
    span.hidden = !text;
    span.previousElementSibling.hidden = !text;
  }

  function showError(text) {
    error.textContent = text || "";
    error.hidden = !text;
  }

  editButton.addEventListener("click", () => {
    for (const f of CONTACT_FIELDS) form.elements[f].value = saved[f];
    showError("");
    dialog.showModal();
    form.elements.first_name.focus();
  });
  dialog.querySelectorAll("[data-close]").forEach((b) => b.addEventListener("click", () => dialog.close()));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    // Only what this person changed: a colleague's edit of another field meanwhile stands.
    const changes = {};
    for (const f of CONTACT_FIELDS) if (form.elements[f].value.trim() !== saved[f]) changes[f] = form.elements[f].value.trim();
    if (!Object.keys(changes).length) return dialog.close();
    const button = $("contact-save");
    button.disabled = true;
    try {
      const { contact } = await patch(`/api/contacts/${contactId}`, changes);
      dialog.close();
      render(contact);
    } catch (err) {
      showError(`Not saved: ${err.message}`);
    } finally {
      button.disabled = false;
    }
  });

  // "Also viewing: Sam Patel" from journey.viewers (this person is left out).
  function renderViewers(payload) {
    const line = $("journey-viewers");
    const others = (payload?.viewers || []).filter((v) => v.id !== userId);
    line.textContent = others.length ? `Also viewing: ${others.map((v) => v.name).join(", ")}` : "";
    line.hidden = !others.length;
  }

  return { render, renderViewers };
}
