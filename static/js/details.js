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
