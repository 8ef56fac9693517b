// The server's named sets of states and kinds (inbox/vocabulary.py), from the JSON island every
// logged-in page carries: the front end keeps no copies of its own.

function load() {
  const island = document.getElementById("vocabulary");
  try {
    return island ? JSON.parse(island.textContent) : {};
  } catch {
    return {};
  }
}

const sets = load();

// Texts that still wait here and can be cancelled.
export const CANCELLABLE = new Set(sets.cancellable || []);
// Outbound states that can still change, and so need a look after a network blip.
export const UNSETTLED = new Set(sets.unsettled || []);
// Kinds staff may move to another journey of the same contact.
export const MOVABLE = new Set(sets.movable || []);
// Outbound states that mean the text did not arrive.
export const FAILED = new Set(sets.failed || []);
