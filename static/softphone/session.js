// Signing in and out, and the agent socket's life: each sign-in refusal is said plainly.
import { AgentSocket } from "./agent-socket.js";
import { emit } from "./events.js";
import { t } from "./i18n.js";
import { receive } from "./messages.js";
import { resetEditor } from "./notes.js";
import { clearSearch } from "./search.js";
import { ssoRefusalKey } from "./sso-errors.js";
import { $, SESSION_KEY, httpBase, show, state, wsUrl } from "./state.js";
import { localStore, tabStorage } from "./storage.js";
import { updateUtilityItem } from "./utility-item.js";

// Minutes from Retry-After (seconds), else from the server's own sentence.
function lockedMinutes(response, detail) {
  const seconds = Number(response.headers.get("retry-after"));
  if (seconds > 0) return Math.max(1, Math.ceil(seconds / 60));
  const found = /(\d+)\s*minute/.exec(detail?.message || "");
  return found ? Number(found[1]) : 15;
}

// Seconds to wait from Retry-After, at least one.
function retrySeconds(response) {
  return Math.max(1, Number(response.headers.get("retry-after")) || 3);
}

// A sign-in the server was too busy to take is tried again by itself, so a shift starting
// at once needs no one to press the button twice; up to a second of jitter keeps the
// retries from arriving together again.
let busyRetry = null;
function retryWhenFree(seconds) {
  busyRetry = setTimeout(() => {
    busyRetry = null;
    $("signin-form").requestSubmit();
  }, (seconds + Math.random()) * 1000);
}

const EXTENSION_KEY = "softphone.extension";
// Refusals about the phone a hot-desk agent sits at: the Extension field shows for these.
const PHONE_REFUSALS = {
  extension_required: "errorExtensionRequired",
  extension_taken: "errorExtensionTaken",
  bad_extension: "errorBadExtension",
};

function refusal(response, detail) {
  const code = detail?.code || "";
  if (response.status === 401 || code === "wrong_credentials") return t("errorWrongCredentials");
  if (response.status === 429 || code === "locked_out") {
    return t("errorLockedOut", { minutes: lockedMinutes(response, detail) });
  }
  if (code === "seats_full") return t("errorSeatsFull");
  if (code === "busy") return t("errorBusy", { seconds: retrySeconds(response) });
  if (PHONE_REFUSALS[code]) return t(PHONE_REFUSALS[code], { extension: $("extension").value });
  return t("errorSignInFailed", { status: response.status });
}

// Only hot-desk agents are asked which phone they are at: the server says so after checking
// their password, and the field then shows, filled with the phone they used last here.
function askForExtension(address, detail) {
  const field = $("extension");
  $("extension-row").hidden = false;
  if (!field.value) {
    field.value = localStore.getJson(EXTENSION_KEY, {})[address] || detail?.default_extension || "";
  }
  field.focus();
  field.select();
}

function rememberExtension(address, extension) {
  const used = localStore.getJson(EXTENSION_KEY, {});
  used[address] = extension;
  localStore.setJson(EXTENSION_KEY, used);
}

export async function signIn(event) {
  event.preventDefault();
  clearTimeout(busyRetry);
  busyRetry = null;
  // Agents paste whole URLs as often as host names: keep only host[:port].
  const host = $("host").value.trim().replace(/^[a-z]+:\/\//i, "").replace(/\/.*$/, "");
  const address = $("address").value.trim();
  const password = $("password").value;
  const extension = $("extension-row").hidden ? "" : $("extension").value.trim();
  const error = $("signin-error");
  error.textContent = "";
  if (!host || !address || !password) {
    error.textContent = t("errorRequired");
    return;
  }
  const button = $("signin");
  button.disabled = true;
  button.textContent = t("signingIn");
  try {
    let response;
    try {
      response = await fetch(`${httpBase(host)}/api/v1/sessions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ address, password, extension }),
      });
    } catch {
      error.textContent = t("errorUnreachable", { host });
      return;
    }
    if (!response.ok) {
      let detail = null;
      try {
        detail = (await response.json()).detail;
      } catch {
        detail = null;
      }
      error.textContent = refusal(response, detail);
      if (detail?.code === "busy") retryWhenFree(retrySeconds(response));
      else if (PHONE_REFUSALS[detail?.code]) askForExtension(address, detail);
      else if (response.status === 401) $("password").select();
      return;
    }
    const body = await response.json();
    if (extension) rememberExtension(address, body.agent.extension);
    $("extension-row").hidden = true;
    $("extension").value = "";
    state.session = { host, token: body.token, agent: body.agent };
    tabStorage.setJson(SESSION_KEY, state.session);
    $("password").value = "";
    startSession();
  } catch {
    error.textContent = t("errorUnreachable", { host });
  } finally {
    button.disabled = false;
    button.textContent = t("signIn");
  }
}

// "Sign in with Salesforce": offered only when this server says it is configured. A popup
// runs the OAuth flow on our own origin and posts our session token back to this page.
let ssoPopup = null;

// The Extension field belongs to the agent who was asked for it: another address hides it.
export function setupExtension() {
  $("address").addEventListener("input", () => {
    $("extension-row").hidden = true;
    $("extension").value = "";
  });
}

export async function setupSso() {
  const button = $("sso-signin");
  button.addEventListener("click", startSso);
  window.addEventListener("message", ssoFinished);
  try {
    const response = await fetch(`${httpBase(location.host)}/api/v1/config`);
    button.hidden = !(response.ok && (await response.json()).sso === true);
  } catch {
    button.hidden = true;
  }
}

function startSso() {
  $("signin-error").textContent = "";
  // A hot-desk agent asked for their phone (below) names it on the next try.
  const extension = $("extension-row").hidden ? "" : $("extension").value.trim();
  const start = extension ? `/sso/start?extension=${encodeURIComponent(extension)}` : "/sso/start";
  ssoPopup = window.open(start, "softphone-sso", "popup,width=520,height=640");
  if (!ssoPopup) $("signin-error").textContent = t("errorSsoPopupBlocked");
}

function ssoFinished(event) {
  if (event.origin !== location.origin || event.data?.type !== "softphone-sso") return;
  if (ssoPopup && event.source !== ssoPopup) return;
  ssoPopup = null;
  const { token, agent, error } = event.data;
  if (!token && PHONE_REFUSALS[error]) {
    // A hot-desk agent: the same question as after a password, answered by trying again.
    const key = error === "extension_required" ? "errorSsoExtension" : PHONE_REFUSALS[error];
    $("signin-error").textContent = t(key, { extension: $("extension").value });
    askForExtension($("address").value.trim(), event.data);
    return;
  }
  if (!token || !agent) {
    $("signin-error").textContent = t(ssoRefusalKey(error));
    return;
  }
  if (state.session) return;
  state.session = { host: location.host, token, agent };
  tabStorage.setJson(SESSION_KEY, state.session);
  startSession();
}

export async function signOut() {
  const session = state.session;
  endSession();
  if (session) {
    // The server forgets the session and clears its cookie (sent along on our own origin).
    const headers = session.token ? { authorization: `Bearer ${session.token}` } : {};
    fetch(`${httpBase(session.host)}/api/v1/sessions`, { method: "DELETE", headers })
      .catch(() => {});
  }
}

// A page that starts without a session in its tab's storage (a new tab, or a reload where the
// browser blocks storage for embedded pages) asks the server whether this browser is signed in:
// the session cookie is partitioned, so it survives where third-party storage is blocked. With
// no session, the sign-in form says why when storage is what is missing.
// Asked as the page starts, in parallel with loading its strings and Open CTI.
export async function currentSession() {
  try {
    const response = await fetch(`${httpBase(location.host)}/api/v1/sessions/current`);
    return response.ok ? (await response.json()).agent : null;
  } catch {
    return null;
  }
}

export async function resumeSession(asked = currentSession()) {
  const agent = await asked;
  if (agent) {
    state.session = { host: location.host, token: "", agent };
    startSession();
    return;
  }
  show("signin");
  $("signin-note").hidden = tabStorage.persistent;
  updateUtilityItem();
}

export function endSession(message = "") {
  if (state.socket) state.socket.close();
  state.socket = null;
  state.session = null;
  state.calls.clear();
  state.logs.clear();
  state.status = null;
  state.data = null;
  state.view = "main";
  state.draft = null;
  resetEditor();
  clearSearch();
  clearInterval(state.wrapTimer);
  clearInterval(state.timer);
  state.host.clickToDial(false);
  updateUtilityItem();
  $("state-control").hidden = true;
  $("open-settings").hidden = true;
  tabStorage.remove(SESSION_KEY);
  $("connection").textContent = "";
  delete $("connection").dataset.state;
  show("signin");
  $("signin-note").hidden = tabStorage.persistent;
  $("signin-error").textContent = message;
  $("address").focus();
}

export function startSession() {
  const { host, token, agent } = state.session;
  $("agent-name").textContent = agent.name;
  $("agent-extension").textContent = agent.extension;
  state.socket = new AgentSocket({
    url: wsUrl(host),
    token,
    onMessage: receive,
    onStatus: connectionStatus,
    onUnauthorized: () => endSession(t("errorSession")),
  });
  state.socket.open();
  state.host.clickToDial(true);
  emit("changed");
}

function connectionStatus(status) {
  const node = $("connection");
  node.dataset.state = status.state;
  node.textContent = status.state === "reconnecting" || status.state === "busy"
    ? t(status.state === "busy" ? "serverBusy" : "reconnecting", { seconds: status.seconds })
    : t(status.state);
}
