// Signing in inside the Voice connector: the proxy's own sign-in (address and password, or
// "Sign in with Salesforce"), shown when the library asks the host to show the login frame.
// Storage may be blocked in this third-party frame: the session token is kept where it can
// be, and otherwise the partitioned session cookie signs the page in again after a reload.
import { tabStorage } from "../softphone/storage.js";

const SESSION_KEY = "voice.session";
const $ = (id) => document.getElementById(id);

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

function refusal(response, detail) {
  if (response.status === 401) return "Wrong sign-in address or password.";
  if (response.status === 429) return detail?.message || "Too many attempts: try again later.";
  return detail?.message || `Sign-in failed (${response.status}).`;
}

// Shows the form; calls `signedIn({agent, token})` once, whichever way the agent signs in.
export function showSignIn(signedIn) {
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
      error.textContent = "Enter your sign-in address and password.";
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
      error.textContent = "The softphone server cannot be reached.";
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
  offerSalesforceSignIn(signedIn);
}

function finish(signedIn, session) {
  $("signin").hidden = true;
  $("signed-in").hidden = false;
  $("agent-name").textContent = session.agent.name;
  $("agent-extension").textContent = session.agent.extension;
  signedIn(session);
}

// "Sign in with Salesforce": our OAuth flow in a popup on our own origin, which posts the
// session back here: the proxy signs in the agent whose roster entry is that Salesforce user.
async function offerSalesforceSignIn(signedIn) {
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
    if (!popup) $("signin-error").textContent = "Allow pop-ups to sign in with Salesforce.";
  };
  window.addEventListener("message", (event) => {
    if (event.origin !== location.origin || event.data?.type !== "softphone-sso") return;
    if (popup && event.source !== popup) return;
    const { token, agent, error } = event.data;
    if (!token || !agent) {
      $("signin-error").textContent = error === "no_agent"
        ? "Your Salesforce user is not on the softphone roster."
        : "Sign-in with Salesforce did not finish.";
      return;
    }
    tabStorage.setJson(SESSION_KEY, { token });
    finish(signedIn, { agent, token });
  });
}

export function showSignedIn(agent) {
  $("signin").hidden = true;
  $("signed-in").hidden = false;
  $("agent-name").textContent = agent.name;
  $("agent-extension").textContent = agent.extension;
}
