// Signing in inside the Voice connector: the proxy's own sign-in (address and password, or
// "Sign in with Salesforce"), shown when the library asks the host to show the login frame.
// Storage may be blocked in this third-party frame: the session token is kept where it can
// be, and otherwise the partitioned session cookie signs the page in again after a reload.
// Its words come from the softphone page's translations, in the browser's language.
import { loadStrings, t } from "../softphone/i18n.js";
import { ssoRefusalKey } from "../softphone/sso-errors.js";
import { tabStorage } from "../softphone/storage.js";

const SESSION_KEY = "voice.session";
const $ = (id) => document.getElementById(id);
// The page's labels are translated once the strings are in; everything shown waits for this.
export const translated = loadStrings().catch(() => "en");

export function savedToken() {
  return tabStorage.getJson(SESSION_KEY, {})?.token || "";
}

export function forgetToken() {
  tabStorage.remove(SESSION_KEY);
}

function authHeaders(token) {
  return token ? { authorization: `Bearer ${token}` } : {};
}

// Who this browser is signed in as (by the token kept here, else the session cookie), or null.
export async function currentAgent(token = savedToken()) {
  try {
    const response = await fetch("/api/v1/sessions/current", { headers: authHeaders(token) });
    return response.ok ? (await response.json()).agent : null;
  } catch {
    return null;
  }
}

export async function signOut(token) {
  forgetToken();
  await fetch("/api/v1/sessions", { method: "DELETE", headers: authHeaders(token) }).catch(() => {});
}

// Minutes from Retry-After (seconds), else from the server's own sentence.
function lockedMinutes(response, detail) {
  const seconds = Number(response.headers.get("retry-after"));
  if (seconds > 0) return Math.max(1, Math.ceil(seconds / 60));
  const found = /(\d+)\s*minute/.exec(detail?.message || "");
  return found ? Number(found[1]) : 15;
}

function refusal(response, detail) {
  const code = detail?.code || "";
  if (response.status === 401 || code === "wrong_credentials") return t("errorWrongCredentials");
  if (response.status === 429 || code === "locked_out") {
    return t("errorLockedOut", { minutes: lockedMinutes(response, detail) });
  }
  if (code === "seats_full") return t("errorSeatsFull");
  return t("errorSignInFailed", { status: response.status });
}

// Shows the form; calls `signedIn({agent, token})` once, whichever way the agent signs in.
// `hostUser`: the Salesforce user id the host passed (connectorConfig.userId), if any.
export async function showSignIn(signedIn, hostUser = "") {
  await translated;
  $("signin").hidden = false;
  $("signed-in").hidden = true;
  const form = $("signin-form");
  const error = $("signin-error");
  form.onsubmit = async (event) => {
    event.preventDefault();
    error.textContent = "";
    const address = $("address").value.trim();
    const password = $("password").value;
    if (!address || !password) {
      error.textContent = t("voiceErrorRequired");
      return;
    }
    let response;
    try {
      response = await fetch("/api/v1/sessions", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ address, password }),
      });
    } catch {
      error.textContent = t("errorUnreachable", { host: location.host });
      return;
    }
    if (!response.ok) {
      const detail = await response.json().then((b) => b.detail).catch(() => null);
      error.textContent = refusal(response, detail);
      return;
    }
    const body = await response.json();
    $("password").value = "";
    tabStorage.setJson(SESSION_KEY, { token: body.token });
    finish(signedIn, { agent: body.agent, token: body.token });
  };
  offerSalesforceSignIn(signedIn, hostUser);
}

function finish(signedIn, session) {
  $("signin").hidden = true;
  $("signed-in").hidden = false;
  $("agent").textContent = t("voiceSignedIn", session.agent);
  signedIn(session);
}

// "Sign in with Salesforce": our OAuth flow in a popup on our own origin, which posts the
// session back here: the proxy signs in the agent whose roster entry is that Salesforce user.
// Salesforce ids come in 15 (case-sensitive) and 18 characters; the first 15 decide.
function sameUser(a, b) {
  return String(a || "").length >= 15 && String(a).slice(0, 15) === String(b || "").slice(0, 15);
}

let ssoListener = null;

async function offerSalesforceSignIn(signedIn, hostUser) {
  const button = $("sso-signin");
  try {
    const response = await fetch("/api/v1/config");
    button.hidden = !(response.ok && (await response.json()).sso === true);
  } catch {
    button.hidden = true;
  }
  let popup = null;
  button.onclick = () => {
    $("signin-error").textContent = "";
    popup = window.open("/sso/start", "softphone-sso", "popup,width=520,height=640");
    if (!popup) $("signin-error").textContent = t("errorSsoPopupBlocked");
  };
  // One listener however often the form is shown (each sign-out shows it again).
  if (ssoListener) window.removeEventListener("message", ssoListener);
  ssoListener = (event) => {
    if (event.origin !== location.origin || event.data?.type !== "softphone-sso") return;
    if (popup && event.source !== popup) return;
    const { token, agent, error, salesforce_user_id: user } = event.data;
    if (!token || !agent) {
      $("signin-error").textContent = t(ssoRefusalKey(error));
      return;
    }
    // Whoever chose a Salesforce user in the popup is not who Salesforce frames us for: the
    // calls of the agent they signed in as would show to someone else. Not signed in, then.
    if (hostUser && !sameUser(hostUser, user)) {
      signOut(token);
      $("signin-error").textContent = t("voiceErrorOtherUser");
      return;
    }
    tabStorage.setJson(SESSION_KEY, { token });
    finish(signedIn, { agent, token });
  };
  window.addEventListener("message", ssoListener);
}

export async function showSignedIn(agent) {
  await translated;
  $("signin").hidden = true;
  $("signed-in").hidden = false;
  $("agent").textContent = t("voiceSignedIn", agent);
}
