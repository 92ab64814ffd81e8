// The call screen and the agent's status: which call the screen is about, the commands on it,
// dialling (from the field, a list, search or Salesforce's click-to-dial), and the agent state.
import { capabilities, stateText } from "./capabilities.js";
import { detail, el, formatDuration } from "./dom.js";
import { on } from "./events.js";
import { t } from "./i18n.js";
import { bindEditor } from "./notes.js";
import { $, notice, send, serverNow, settings, show, state } from "./state.js";
import { renderPick } from "./wrap-up.js";

// The call the big screen is about: a ringing call first, then the one being spoken on
// (a consultation call before the call it consults from), then held ones, then a just-ended
// one that is not in wrap-up (a call in wrap-up has its own panel).
export function currentCall() {
  const calls = [...state.calls.values()];
  const live = (c) => ["active", "conference", "dialing"].includes(c.state);
  return calls.find((c) => c.state === "ringing")
    || calls.find((c) => live(c) && c.consult_of)
    || calls.find(live)
    || calls.find((c) => c.state === "held" || c.state === "consultation")
    || calls.find((c) => c.state === "cleared" && !state.logs.has(c.call_id));
}

// The call on consultation hold while the agent consults from it, if any.
export function consultingFrom() {
  return [...state.calls.values()].find((c) => c.state === "consultation");
}

export function command(type, fields = {}) {
  const call = currentCall();
  if (!call) return;
  notice("");
  send({ type, call_id: call.call_id, ...fields });
}

export function numberCommand(type) {
  const number = $("transfer-number").value.trim();
  if (!number) {
    $("transfer-number").focus();
    return;
  }
  command(type, { number });
  $("transfer-number").value = "";
}

export function consultCommand(type) {
  const original = consultingFrom();
  if (!original) return;
  notice("");
  send({ type, call_id: original.call_id });
}

export function dialNumber(number) {
  const clean = String(number || "").trim().slice(0, 40);
  if (!clean) return false;
  notice("");
  if (!send({ type: "dial", number: clean })) {
    notice(t("errorOffline"));
    return false;
  }
  return true;
}

export function dial(event) {
  event.preventDefault();
  if (dialNumber($("dial-number").value)) $("dial-number").value = "";
}

// A number picked from favorites, history or search: dialled at once, or put in the dial
// field first when the agent edits numbers before dialling them.
export function pickNumber(number) {
  if (!number) return;
  if (settings().edit_number) {
    const field = $("dial-number");
    field.value = number;
    field.focus();
    field.setSelectionRange(number.length, number.length);
    return;
  }
  dialNumber(number);
}

// A number clicked in Salesforce: one click dials it.
export function clickedToDial(number) {
  if (!state.session) {
    notice(t("signInToDial"));
    return;
  }
  state.host.show();
  dialNumber(number);
}

export function changeState() {
  const [value, reason] = $("agent-state").value.split(":");
  notice("");
  send({ type: "set_state", state: value, reason: reason || "" });
}

function renderStatus() {
  const status = state.status;
  if (!status) return;
  $("state-control").hidden = false;
  const select = $("agent-state");
  const can = capabilities();
  const options = [["ready", t("stateReady")]];
  if (can.dnd) options.push(["dnd", t("stateDnd")]);
  if (can.make_busy) {
    for (const reason of status.reason_codes) options.push([`busy:${reason}`, t("stateBusy", { reason })]);
  }
  const current = status.state === "busy" ? `busy:${status.reason}` : status.state;
  if (!options.some(([value]) => value === current)) {
    options.unshift([current, t(`state${status.state === "logged_out" ? "LoggedOut" : "Work"}`)]);
  }
  select.replaceChildren(...options.map(([value, label]) => new Option(label, value)));
  select.value = current;
  select.dataset.state = status.state;
  const text = {
    ready: t("readyForCalls"), busy: t("busyNow", { reason: status.reason }), dnd: t("dndNow"),
    work: t("stateWork"), logged_out: t("stateLoggedOut"),
  }[status.state];
  $("idle-state").className = `state ${status.state}`;
  $("idle-state-text").textContent = text;
  $("work").hidden = status.state !== "work";
  $("work-text").textContent = t("workLeft", { seconds: Math.ceil(status.work_seconds) });
  $("cancel-work").hidden = !can.cancel_work;
  // Desk phone users are always logged in; hot-desk and ACD agents log in and out.
  const canLogOut = status.kind !== "regular" && can.phone_login;
  $("phone-logout").hidden = !canLogOut || status.state === "logged_out";
  $("phone-login").hidden = !canLogOut || status.state !== "logged_out";
  $("dial-form").hidden = status.state === "logged_out";
  const acd = status.kind === "acd" && status.acd_groups.length > 0 && can.acd_groups;
  $("groups").hidden = !acd;
  $("group-list").replaceChildren(...status.acd_groups.map((group) => {
    const label = document.createElement("label");
    const box = document.createElement("input");
    box.type = "checkbox";
    box.checked = status.groups.includes(group);
    box.addEventListener("change", () => send({
      type: box.checked ? "acd_login" : "acd_logout", group,
    }));
    label.append(box, document.createTextNode(group));
    return label;
  }));
}

function recordItem(kindText, name) {
  const li = document.createElement("li");
  li.append(el("span", "object", kindText), document.createTextNode(` ${name}`));
  return li;
}

function renderHeading(call) {
  if (call.placed) {
    // The agent placed this call: the heading is who they are calling.
    $("caller-name").textContent = call.parties[0]?.number || call.dnis;
    $("caller-number").textContent = "";
  } else if (call.pop?.kind === "search") {
    // The server did not look this caller up; the record opens from Salesforce's own search.
    $("caller-name").textContent = call.ani_display || t("withheld");
    $("caller-number").textContent = t("searchedInSalesforce");
  } else {
    $("caller-name").textContent = call.caller_name
      || (call.matching ? t("lookingUp") : t("unknownCaller"));
    $("caller-number").textContent = call.ani_display || t("withheld");
  }
  if (call.state === "conference") {
    $("caller-number").textContent = call.parties.map((p) => p.number).join(", ");
  }
}

// The log a call's notes, codes and record go to: a consultation logs to its original call.
export function logIdOf(call) {
  return call.consult_of || call.call_id;
}

export function renderCall(call) {
  show("call");
  $("screen-call").dataset.state = call.state;
  $("call-state").textContent = stateText(call);
  $("call-state").dataset.state = call.state;
  renderHeading(call);
  const details = $("call-details");
  details.replaceChildren();
  if (!call.placed) detail(details, t("dnis"), call.dnis);
  detail(details, t("queue"), call.queue);
  detail(details, t("ivr"), call.ivr.join(", "));
  // Digits the caller keyed in (an IVR's prompt), spaced as MiVoice shows them: "1 2 3 4".
  detail(details, t("digitsEntered"), [...(call.digits || "")].join(" "));
  const s = call.state;
  const logId = logIdOf(call);
  const log = state.logs.get(logId);
  const matches = call.pop?.kind === "record" ? call.pop.matches : (log?.matches || []);
  // Several matches: the agent picks the one the call is logged against.
  const picking = matches.length > 1 && !call.consult_of && s !== "cleared";
  $("matches-block").hidden = matches.length === 0 || picking;
  $("matches").replaceChildren(...(picking ? [] : matches).map((m) => recordItem(m.object, m.name)));
  renderPick($("call-pick"), logId, picking ? matches : [], log?.picked || null);
  // Notes from the first ring (the log exists from then on), unless the agent does not log
  // this kind of call.
  const logged = settings()[`log_${call.direction}`] !== false;
  const notes = logged && s !== "cleared" && (s !== "ringing" || Boolean(log));
  bindEditor(notes ? logId : null, notes ? $("call-notes") : null);
  const consulting = consultingFrom();
  const talking = s === "active" || s === "conference";
  const can = capabilities();
  $("answer").hidden = s !== "ringing" || !can.answer;
  $("hold").hidden = !talking || !can.hold;
  $("retrieve").hidden = !(s === "held" || s === "consultation") || !can.hold;
  $("complete-transfer").hidden = !(consulting && call.consult_of && can.consult);
  $("conference").hidden = !(consulting && call.consult_of && can.conference);
  $("hangup").hidden = s === "cleared" || s === "consultation";
  const offers = s === "ringing" ? can.redirect : can.consult || can.transfer;
  $("transfer-form").hidden = !(s === "ringing" || (talking && !call.consult_of)) || !offers;
  $("consult").hidden = !talking || !can.consult;
  $("transfer").hidden = s !== "active" || !can.transfer;
  $("redirect").hidden = s !== "ringing" || !can.redirect;
  $("dialpad-toggle").hidden = !talking || !can.dtmf;
  if (!talking) {
    $("dialpad").hidden = true;
    $("dialpad-toggle").setAttribute("aria-expanded", "false");
  }
  const others = [...state.calls.values()].filter((c) => c !== call && c.state !== "cleared");
  $("other-calls-block").hidden = others.length === 0;
  $("other-calls").replaceChildren(...others.map((c) => recordItem(
    t(c.state), c.caller_name || c.ani_display || c.parties[0]?.number || "",
  )));
  const tick = () => {
    $("call-timer").textContent = call.answered_at && s !== "cleared"
      ? formatDuration(serverNow() - call.answered_at) : "";
  };
  tick();
  if (call.answered_at && s !== "cleared") state.timer = setInterval(tick, 1000);
}

// The agent's state is drawn when the server tells it, apart from the redraw of the screens.
export function setupCallScreen() {
  on("status", renderStatus);
}
