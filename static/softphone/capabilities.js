// What the PBX link can do, as the server says in the agent's status: the page shows only
// those controls (an Asterisk agent sees no Conference button), and how a call ringing back
// is named.
import { t } from "./i18n.js";
import { state } from "./state.js";

const EVERYTHING = {
  answer: true, hold: true, redirect: true, consult: true, transfer: true, conference: true,
  dtmf: true, dnd: true, make_busy: true, acd_groups: true, cancel_work: true, phone_login: true,
  hold_recall: true,
};

// Until the first status arrives nothing is drawn that needs it; a server from before
// capabilities existed could do everything its page offered.
export function capabilities() {
  return state.status?.capabilities || EVERYTHING;
}

// A call ringing back says why ("Hold recall", "Transfer recall"); any other, its state.
export function stateText(call) {
  if (call.state === "ringing" && call.reason === "hold_recall") return t("holdRecall");
  if (call.state === "ringing" && call.reason === "transfer_recall") return t("transferRecall");
  return t(call.state);
}
