// The journey panel: pathway, stage, assignee, open/closed; each change is one PATCH.

import { patch, post } from "./api.js";

const $ = (id) => document.getElementById(id);

// Create the panel controller for one journey of a contact.
export function createDetails(journeyId, contactId) {
  const pathway = $("journey-pathway");
  const stage = $("journey-stage");
  const assignee = $("journey-assignee");
  const toggle = $("journey-toggle-open");
  const status = $("journey-save-status");
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
  toggle.addEventListener("click", () =>
    save({ is_open: !current.is_open }, current.is_open ? "Journey closed." : "Journey reopened."),
  );

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
