// The search box above the list: texts, notes, names and numbers across the practice (GET /api/search).
// What is searched for is ePHI: it stays in this page's memory, never in the URL, storage or logs.

import { get } from "./api.js";
import { debounce, refreshTimes } from "./format.js";

const $ = (id) => document.getElementById(id);
const [form, box, clear, panel] = ["search-form", "search-box", "search-clear", "search-results"].map($);
const [results, statusLine, list, empty] = ["search-list", "search-status", "journey-list", "inbox-empty"].map($);
const MIN_CHARS = 2;

let asked = 0; // the latest search's number: an older answer arriving late is dropped

// Fold a character for matching as the server's index does: accents off, lower case.
function fold(ch) {
  return ch.normalize("NFD").replace(/\p{M}/gu, "").toLowerCase();
}

// The words searched for, folded (digits-only words too: a number's parts).
function searchWords(query) {
  return query
    .split(/[^\p{L}\p{N}]+/u)
    .map((w) => [...w].map(fold).join(""))
    .filter(Boolean);
}

// The snippet as text nodes and <mark>s around each word that starts like a searched word. Built from
// DOM nodes: the snippet is the patient's own text, never markup.
export function highlighted(text, words) {
  const parts = [];
  const pattern = /[\p{L}\p{N}]+/gu;
  let last = 0;
  for (const match of text.matchAll(pattern)) {
    const folded = [...match[0]].map(fold).join("");
    if (!words.some((w) => folded.startsWith(w))) continue;
    if (match.index > last) parts.push(document.createTextNode(text.slice(last, match.index)));
    const mark = document.createElement("mark");
    mark.textContent = match[0];
    parts.push(mark);
    last = match.index + match[0].length;
  }
  if (last < text.length) parts.push(document.createTextNode(text.slice(last)));
  return parts;
}

// One result: who, which pathway, the words around the match.
function resultItem(hit, words) {
  const j = hit.journey;
  const li = document.createElement("li");
  li.className = "journey-row search-hit";
  li.dataset.journeyId = String(j.id);
  if (hit.message_id != null) li.dataset.messageId = String(hit.message_id);
  const link = document.createElement("a");
  link.className = "journey-link";
  link.href = `/journeys/${Number(j.id)}`;
  const line = document.createElement("span");
  line.className = "journey-line";
  const who = document.createElement("span");
  who.className = "journey-contact";
  who.append(...highlighted(j.contact || "", words));
  const badge = document.createElement("span");
  badge.className = `badge badge-pathway journey-pathway pathway-${j.pathway}`;
  badge.textContent = j.pathway_label || j.pathway;
  line.append(who, badge);
  if (!j.is_open) line.append(Object.assign(document.createElement("span"), { className: "tag tag-closed", textContent: "Closed" }));
  const snippet = document.createElement("span");
  snippet.className = "journey-snippet";
  snippet.append(...highlighted(hit.snippet || "", words));
  const side = document.createElement("span");
  side.className = "journey-side";
  const time = document.createElement("time");
  time.className = "journey-time";
  time.dataset.relative = "";
  time.setAttribute("datetime", j.last_activity_at || "");
  side.append(time);
  link.append(line, snippet, side);
  li.append(link);
  return li;
}

// Show results instead of the list (or the list again).
function showResults(on) {
  panel.hidden = !on;
  list.hidden = on;
  empty.hidden = on || list.children.length > 0;
  clear.hidden = !on;
  form.classList.toggle("is-searching", on);
}

// Ask the server and list what it found.
async function run() {
  const query = box.value.trim();
  const mine = ++asked;
  if (query.length < MIN_CHARS) {
    if (!query) showResults(false);
    else {
      showResults(true);
      results.replaceChildren();
      statusLine.textContent = `Type at least ${MIN_CHARS} characters.`;
    }
    return;
  }
  showResults(true);
  statusLine.textContent = "Searching…";
  try {
    const { results: hits } = await get(`/api/search?${new URLSearchParams({ q: query })}`);
    if (mine !== asked) return;
    const words = searchWords(query);
    results.replaceChildren(...hits.map((hit) => resultItem(hit, words)));
    refreshTimes(results);
    statusLine.textContent = hits.length
      ? `${hits.length} result${hits.length === 1 ? "" : "s"}. Press Esc to go back to the list.`
      : "Nothing found. Every word must be in the same text, name or number.";
  } catch (err) {
    if (mine === asked) statusLine.textContent = `Search failed: ${err.message}`;
  }
}
const runSoon = debounce(run, 300);

// Back to the list; the words are forgotten.
export function clearSearch() {
  asked += 1;
  box.value = "";
  results.replaceChildren();
  statusLine.textContent = "";
  showResults(false);
}

// Are results on screen (so j/k walk them rather than the list)?
export function searching() {
  return !panel.hidden;
}

// The result rows, in order.
export function resultRows() {
  return [...results.querySelectorAll(".search-hit")];
}

// The search box takes the focus ("/").
export function focusSearch() {
  box.focus();
  box.select();
}

// Wire the box; `open(journeyId, messageId)` shows a result in the right pane.
export function initSearch(open) {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    run();
  });
  box.addEventListener("input", runSoon);
  box.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      if (box.value) clearSearch();
      box.blur();
    } else if (event.key === "ArrowDown" && resultRows().length) {
      event.preventDefault();
      resultRows()[0].querySelector("a").focus();
    }
  });
  clear.addEventListener("click", () => {
    clearSearch();
    box.focus();
  });
  // A result opens its journey in the pane, at the text that matched (before the page-wide router).
  results.addEventListener("click", (event) => {
    const link = event.target.closest("a.journey-link");
    if (!link || event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey) return;
    event.preventDefault();
    const row = link.closest(".search-hit");
    for (const other of results.querySelectorAll("[aria-current]")) other.removeAttribute("aria-current");
    link.setAttribute("aria-current", "true");
    open(Number(row.dataset.journeyId), row.dataset.messageId ? Number(row.dataset.messageId) : null);
  });
}
