// Small formatting helpers: times in the practice's time zone, relative times, sizes, status words.

const TZ = document.body.dataset.tz || undefined;

// A formatter that falls back to the browser's zone if the practice's zone is unknown to it.
function formatter(options) {
  try {
    return new Intl.DateTimeFormat(undefined, { ...options, timeZone: TZ });
  } catch {
    return new Intl.DateTimeFormat(undefined, options);
  }
}

const dayTime = formatter({ day: "numeric", month: "short", hour: "numeric", minute: "2-digit" });
const timeOnly = formatter({ hour: "numeric", minute: "2-digit" });
const dayOnly = formatter({ day: "numeric", month: "short", year: "numeric" });
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto", style: "short" });

// Parse an ISO timestamp from the API; null for missing or invalid values.
export function parseTime(iso) {
  if (!iso) return null;
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? null : date;
}

// "22 Nov, 3:10 PM" (or just "3:10 PM" for today).
export function formatTime(iso) {
  const date = parseTime(iso);
  if (!date) return "";
  const today = dayOnly.format(new Date()) === dayOnly.format(date);
  return today ? timeOnly.format(date) : dayTime.format(date);
}

// "just now", "5 min. ago", "3 hr. ago", "yesterday", then a date.
export function relativeTime(iso) {
  const date = parseTime(iso);
  if (!date) return "";
  const seconds = Math.round((date.getTime() - Date.now()) / 1000);
  const abs = Math.abs(seconds);
  if (abs < 45) return "just now";
  if (abs < 3600) return relative.format(Math.round(seconds / 60), "minute");
  if (abs < 86400) return relative.format(Math.round(seconds / 3600), "hour");
  if (abs < 7 * 86400) return relative.format(Math.round(seconds / 86400), "day");
  return dayOnly.format(date);
}

// Fill every <time datetime> under root with its relative time, the exact time as its tooltip.
export function refreshTimes(root = document) {
  for (const el of root.querySelectorAll("time[datetime][data-relative]")) {
    const iso = el.getAttribute("datetime");
    el.textContent = relativeTime(iso);
    el.title = formatTime(iso);
  }
}

// "183 KB"
export function formatSize(bytes) {
  if (!bytes && bytes !== 0) return "";
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

// Prefix a reason with a word unless the server already started the reason with it.
function withPrefix(prefix, reason) {
  if (!reason) return prefix;
  const text = String(reason).trim();
  if (text.toLowerCase().startsWith(prefix.toLowerCase())) return text;
  return `${prefix}: ${text}`;
}

// The status tick of an outbound message, in words.
export function statusText(msg) {
  switch (msg.status) {
    case "scheduled":
      return `Scheduled · sends ${formatTime(msg.not_before)}`;
    case "held_for_consent":
      // A follow-up that was due says what the consent rules decided at that moment.
      return msg.flags?.scheduled_for && msg.consent_decision ? sentence(msg.consent_decision) : "Held for consent";
    case "queued":
      if (msg.flags?.scheduled_for && msg.not_before && msg.consent_decision) return `Queued · ${sentence(msg.consent_decision)}`;
      return msg.not_before ? `Queued · sends at ${formatTime(msg.not_before)}` : "Queued";
    case "sending":
      return "Sending";
    case "sent":
      return "Sent ✓";
    case "delivered":
      return "Delivered ✓✓";
    case "failed":
    case "undelivered":
      return withPrefix("Failed", msg.error_reason);
    case "cancelled":
      return withPrefix("Cancelled", msg.error_reason);
    case "unconfirmed":
      return withPrefix("Check", msg.error_reason);
    default:
      return msg.status || "";
  }
}

// Capitalise the first letter of a sentence from the server.
export function sentence(text) {
  const s = String(text || "").trim();
  return s ? s[0].toUpperCase() + s.slice(1) : "";
}

// Run fn at most once per `wait` ms of quiet (the last call wins).
export function debounce(fn, wait) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), wait);
  };
}

// The practice zone's offset from UTC at an instant, in minutes (e.g. -420 for 7 hours behind).
function zoneOffset(date) {
  const parts = Object.fromEntries(
    formatter({ year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23" })
      .formatToParts(date)
      .map((p) => [p.type, p.value]),
  );
  const asUtc = Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour, parts.minute);
  return Math.round((asUtc - date.getTime()) / 60000);
}

// A datetime-local value ("2026-12-03T09:30"), read as the practice's wall clock, as an ISO instant.
export function wallClockToIso(value) {
  const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})$/.exec(value || "");
  if (!match) return null;
  const [, y, mo, d, h, mi] = match.map(Number);
  const guess = new Date(Date.UTC(y, mo - 1, d, h, mi));
  const first = new Date(guess.getTime() - zoneOffset(guess) * 60000);
  // Near a DST change the offset at the answer can differ from the guess's: correct once.
  return new Date(guess.getTime() - zoneOffset(first) * 60000).toISOString();
}

// An ISO instant as a datetime-local value on the practice's wall clock.
export function isoToWallClock(iso) {
  const date = parseTime(iso);
  if (!date) return "";
  return new Date(date.getTime() + zoneOffset(date) * 60000).toISOString().slice(0, 16);
}
