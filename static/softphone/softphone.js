// The softphone page: sign-in, the agent's calls as the server reports them, and pops; call
// notes and wrap-up; search, favorites, call history, quick notes and the agent's own settings.
// Anything that comes from outside (names, numbers, notes) is only ever set as text.
// This module wires the page together; each screen and concern has its own module.
import {
  changeState, clickedToDial, command, consultCommand, dial, numberCommand, setupCallScreen,
} from "./call-screen.js";
import { connectHost } from "./cti-host.js";
import { emit } from "./events.js";
import { loadStrings } from "./i18n.js";
import { setupLists } from "./lists.js";
import { markActive } from "./messages.js";
import { setupNotes } from "./notes.js";
import { askOnce } from "./notifications.js";
import { setupRender, standalonePop } from "./render.js";
import { setupSearch } from "./search.js";
import {
  currentSession, resumeSession, setupExtension, setupSso, signIn, signOut, startSession,
} from "./session.js";
import { setupSettings } from "./settings.js";
import { $, send, show, state } from "./state.js";
import { setupWrapUp } from "./wrap-up.js";

const DIALPAD_KEYS = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "0", "#"];

function setupCallControls() {
  $("answer").addEventListener("click", () => {
    askOnce();
    command("answer");
  });
  $("hangup").addEventListener("click", () => command("hangup"));
  $("hold").addEventListener("click", () => command("hold"));
  $("retrieve").addEventListener("click", () => command("retrieve"));
  $("consult").addEventListener("click", () => numberCommand("consult"));
  $("transfer").addEventListener("click", () => numberCommand("transfer"));
  $("redirect").addEventListener("click", () => numberCommand("redirect"));
  $("complete-transfer").addEventListener("click", () => consultCommand("complete_transfer"));
  $("conference").addEventListener("click", () => consultCommand("conference"));
  $("transfer-form").addEventListener("submit", (event) => event.preventDefault());
  $("dial-form").addEventListener("submit", dial);
  $("agent-state").addEventListener("change", changeState);
  $("cancel-work").addEventListener("click", () => send({ type: "cancel_work" }));
  $("phone-logout").addEventListener("click", () => send({ type: "logout" }));
  $("phone-login").addEventListener("click", () => send({ type: "login" }));
  $("dialpad").replaceChildren(...DIALPAD_KEYS.map((key) => {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "btn";
    button.textContent = key;
    button.addEventListener("click", () => command("dtmf", { digits: key }));
    return button;
  }));
  $("dialpad-toggle").addEventListener("click", () => {
    const open = $("dialpad").hidden;
    $("dialpad").hidden = !open;
    $("dialpad-toggle").setAttribute("aria-expanded", String(open));
  });
}

// The tab the agent uses last is the one that opens pops (see messages.js).
function trackActiveTab() {
  markActive();
  // Only what the agent does counts: the page itself focuses Answer when a call rings.
  for (const type of ["pointerdown", "keydown"]) {
    window.addEventListener(type, markActive, { capture: true, passive: true });
  }
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") markActive();
  });
}

// The call center's own settings (written by our XML generator) say which PBX this is and
// where its server lives; a different server origin usually means a stale adapter URL.
async function readCallCenter() {
  const found = await state.host.callCenterSettings();
  state.callCenter = {
    vendor: found["/softphoneSettings/vendor"] || "",
    serverOrigin: found["/softphoneSettings/serverOrigin"] || "",
  };
  const origin = state.callCenter.serverOrigin;
  if (origin && origin !== location.origin) {
    console.warn(`[softphone] the call center names ${origin} as its server, `
      + `but this page comes from ${location.origin}: check the CTI adapter URL`);
  }
  if (state.view === "settings") emit("changed");
}

async function main() {
  // Whether this browser is still signed in (a reload where storage is blocked) is asked at
  // once, not after the strings and Open CTI have loaded: one round trip less before ready.
  const signedIn = state.session ? null : currentSession();
  await loadStrings();
  state.host = await connectHost(standalonePop);
  $("signin-form").addEventListener("submit", signIn);
  $("signout").addEventListener("click", signOut);
  setupSso();
  setupExtension();
  setupRender();
  setupCallScreen();
  setupCallControls();
  setupNotes();
  setupWrapUp();
  setupLists();
  setupSettings();
  setupSearch();
  trackActiveTab();
  state.host.onClickToDial(clickedToDial);
  $("host").value = location.host;
  if (state.session) startSession();
  else await resumeSession(signedIn);
  readCallCenter();
  // Only now is the phone usable: Salesforce falls back to the standby URL until we say so.
  state.host.ready();
  document.body.dataset.ready = "true";
  performance.mark("softphone-ready");
}

main();
