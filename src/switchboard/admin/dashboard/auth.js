// The control plane's API key in the pages: asked for in a form, kept in this tab's
// sessionStorage (never in the URL: URLs end up in history and proxy logs), sent in the
// X-API-Key header the management API and the dashboard stream read.

const STORAGE = "switchboard.apiKey";
export const KEY_HEADER = "X-API-Key";
// The key given this page when sessionStorage is off (a privacy mode): lost on reload.
let memoryKey = null;

export function storedKey() {
  try {
    return sessionStorage.getItem(STORAGE);
  } catch {
    return null; // storage disabled: the form asks each time
  }
}

export function storeKey(key) {
  try {
    if (key) sessionStorage.setItem(STORAGE, key);
    else sessionStorage.removeItem(STORAGE);
  } catch {
    // Storage disabled: the key lives as long as the page does.
  }
  memoryKey = key || null;
}

/** The key to send: the stored one (or the one given this page, if storage is off). */
export function currentKey() {
  return storedKey() ?? memoryKey;
}

/** Headers for a request to the control plane, with the key when there is one. */
export function keyHeaders(extra = {}) {
  const key = currentKey();
  return key ? { ...extra, [KEY_HEADER]: key } : { ...extra };
}

/**
 * Old bookmarks carry `?key=`: keep it in sessionStorage and take it out of the address
 * bar (and so out of the browser history from now on).
 */
export function adoptKeyFromUrl() {
  const url = new URL(location.href);
  const key = url.searchParams.get("key");
  if (key === null) return;
  storeKey(key);
  url.searchParams.delete("key");
  history.replaceState(history.state, "", url.pathname + url.search + url.hash);
}

/** The error message of a control-plane error answer (`{"error": {...}}`). */
export async function errorMessage(response) {
  try {
    return String((await response.json()).error.message);
  } catch {
    return response.statusText || "no details";
  }
}

let pending = null;

// The form, made the first time it is needed, under the page's banner.
function keyForm() {
  let form = document.getElementById("key-form");
  if (form) return form;
  form = document.createElement("form");
  form.className = "card key-form";
  form.id = "key-form";
  form.hidden = true;
  form.innerHTML = `
    <h2>API key</h2>
    <p id="key-message"></p>
    <div class="row">
      <input id="key-input" type="password" autocomplete="off" placeholder="api_key" aria-label="API key">
      <button type="submit" id="key-submit">Open</button>
    </div>
    <p class="hint">Kept in this browser tab only (sessionStorage) and sent in the X-API-Key header.</p>`;
  document.getElementById("banner").after(form);
  return form;
}

/**
 * Show the key form (with `message`, e.g. why the last key failed) and resolve with the
 * key the operator enters, once it is stored. Concurrent callers share one form.
 */
export function askForKey(message) {
  const form = keyForm();
  const note = document.getElementById("key-message");
  const input = document.getElementById("key-input");
  note.textContent = message;
  note.dataset.kind = message.includes("rejected") ? "error" : "info";
  form.hidden = false;
  input.value = "";
  input.focus();
  if (pending) return pending;
  pending = new Promise((resolve) => {
    const submit = (event) => {
      event.preventDefault();
      const key = input.value.trim();
      if (!key) {
        note.textContent = "Enter the node's api_key.";
        return;
      }
      form.removeEventListener("submit", submit);
      form.hidden = true;
      input.value = "";
      storeKey(key);
      pending = null;
      resolve(key);
    };
    form.addEventListener("submit", submit);
  });
  return pending;
}

/** Why a 401 happened, in the words the form shows. */
export function refusalText(hadKey) {
  return hadKey
    ? "That API key was rejected: check the node's api_key and enter it again."
    : "This node needs its API key (the api_key setting) to show its data.";
}

/**
 * `fetch` of a control-plane path with the key; a 401 asks for the key (when the node
 * has one: `keyRequired`) and tries again with the new one.
 */
export async function keyedFetch(path, init = {}, keyRequired = true) {
  for (;;) {
    const hadKey = currentKey() !== null;
    const response = await fetch(path, { ...init, headers: keyHeaders(init.headers || {}) });
    if (response.status !== 401 || !keyRequired) return response;
    storeKey(null);
    await askForKey(refusalText(hadKey));
  }
}
