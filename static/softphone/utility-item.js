// The Lightning utility bar item says what the phone is doing: "Ringing", "On call 02:13"
// (ticking), "Wrap-up", or just "Phone", with a matching SLDS utility icon.
import { currentCall } from "./call-screen.js";
import { formatDuration } from "./dom.js";
import { t } from "./i18n.js";
import { serverNow, state } from "./state.js";
import { wrappingLogs } from "./wrap-up.js";

const ON_CALL = new Set(["active", "conference", "held", "consultation", "dialing"]);
let shown = { label: "", icon: "" };
let ticker = null;

function wanted() {
  const call = state.session ? currentCall() : null;
  if (call?.state === "ringing") return { label: t("utilRinging"), icon: "phone_portrait", tick: false };
  if (call && ON_CALL.has(call.state)) {
    const time = call.answered_at ? formatDuration(serverNow() - call.answered_at) : "";
    const label = time ? t("utilOnCall", { time }) : t(call.state === "dialing" ? "dialing" : "active");
    return { label, icon: "end_call", tick: true };
  }
  if (state.session && wrappingLogs().length) return { label: t("utilWrapUp"), icon: "note", tick: false };
  return { label: t("utilPhone"), icon: "call", tick: false };
}

export function updateUtilityItem() {
  const next = wanted();
  if (next.label !== shown.label || next.icon !== shown.icon) {
    state.host?.status(next.label, next.icon, shown.icon !== next.icon);
    shown = { label: next.label, icon: next.icon };
  }
  if (next.tick && !ticker) ticker = setInterval(updateUtilityItem, 1000);
  if (!next.tick && ticker) {
    clearInterval(ticker);
    ticker = null;
  }
}
