// JSON calls to the Intake Inbox API: same-origin cookies, the page's CSRF token, readable errors.

// The CSRF token the server put in <meta name="csrf-token">.
export function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

// An error answer from the API, with its HTTP status and JSON body.
export class ApiError extends Error {
  constructor(status, data) {
    super((data && data.error) || `Request failed (${status})`);
    this.status = status;
    this.data = data || {};
  }
}

// Call the API and return the parsed JSON; throws ApiError on a 4xx/5xx answer.
export async function api(method, url, body) {
  const headers = { Accept: "application/json" };
  const init = { method, headers, credentials: "same-origin" };
  if (method !== "GET") headers["X-CSRFToken"] = csrfToken();
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(url, init);
  const data = await readJson(response);
  if (response.status === 401) {
    // The session ended (logout, idle logoff): the only way on is the login form.
    goToLogin();
    throw new ApiError(401, data);
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

// Parse a response body as JSON, or null when it is not JSON.
async function readJson(response) {
  const type = response.headers.get("Content-Type") || "";
  if (!type.includes("json")) return null;
  try {
    return await response.json();
  } catch {
    return null;
  }
}

// Leave for the login form, coming back here afterwards.
export function goToLogin() {
  if (location.pathname === "/login") return;
  const next = encodeURIComponent(location.pathname + location.search);
  location.assign(`/login?next=${next}`);
}

export const get = (url) => api("GET", url);
export const post = (url, body = {}) => api("POST", url, body);
export const patch = (url, body) => api("PATCH", url, body);
export const put = (url, body) => api("PUT", url, body);
