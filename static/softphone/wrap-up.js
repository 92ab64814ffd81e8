// Wrap-up: the panel of a call that has ended and is not logged yet (notes, record, codes,
// the admin's actions, the countdown to the automatic save), and the record pick.
import { clock, el, formatDuration } from "./dom.js";
import { emit, on } from "./events.js";
import { t } from "./i18n.js";
import { recordOf } from "./messages.js";
import { flushNotes } from "./notes.js";
import { $, notice, send, serverNow, state } from "./state.js";

// The server's default wrap-up actions, translated; an admin's own labels are shown as they are.
const DEFAULT_ACTIONS = {
  save_exit: "Save & Exit",
  save_new_task: "Save & New Task",
  follow_up: "Save & Follow-up tomorrow",
};
const CODE_SELECTS = { classification: "classification", account_code: "account-code" };

export function wrappingLogs() {
  return [...state.logs.values()].filter((l) => l.state === "wrapping")
    .sort((a, b) => (a.ended_at || 0) - (b.ended_at || 0));
}

export function renderPick(container, callId, matches, picked) {
  if (matches.length < 2) {
    container.replaceChildren();
    return;
  }
  const chosen = state.picks.has(callId) ? state.picks.get(callId) : picked;
  const fieldset = el("fieldset", "pick");
  fieldset.append(el("legend", "", t("pickRecord")));
  const options = [...matches.map((m) => [m.id, m]), ["", null]];
  for (const [id, match] of options) {
    const label = el("label", "check");
    const radio = el("input");
    radio.type = "radio";
    radio.name = `${container.id}-radio`;
    radio.dataset.key = `${container.id}-${id}`;
    radio.checked = (chosen?.id || "") === id;
    radio.addEventListener("change", () => {
      const record = match ? { object: match.object, id: match.id, name: match.name } : null;
      pickRecord(callId, record);
    });
    label.append(radio);
    if (match) label.append(el("span", "object", match.object), el("span", "", match.name));
    else label.append(el("span", "", t("pickNone")));
    fieldset.append(label);
  }
  container.replaceChildren(fieldset);
}

export function pickRecord(callId, record) {
  state.picks.set(callId, record);
  notice("");
  return send({ type: "pick", call_id: callId, record });
}

function actionLabel(action) {
  return DEFAULT_ACTIONS[action.id] === action.label ? t(`action_${action.id}`) : action.label;
}

function wrapUpView() {
  return state.wrapUp || {
    actions: [], classification_codes: [], account_codes: [], classification_required: false,
  };
}

function fillSelect(select, first, values, value) {
  const signature = JSON.stringify([first, values]);
  if (select.dataset.signature !== signature) {
    select.replaceChildren(new Option(first, ""), ...values.map((v) => new Option(v, v)));
    select.dataset.signature = signature;
  }
  // Never change a select under the agent's hand.
  if (document.activeElement !== select || select.dataset.call !== select.dataset.shown) {
    select.value = value;
  }
}

function codesFor(log) {
  if (!state.codes.has(log.call_id)) {
    state.codes.set(log.call_id, {
      classification: log.classification || "", account_code: log.account_code || "",
    });
  }
  return state.codes.get(log.call_id);
}

// Codes chosen in another tab (or echoed from ours) are the truth, except in a select the
// agent is using right now.
function codesFromLog(log) {
  const codes = codesFor(log);
  const shown = wrappingLogs()[0]?.call_id === log.call_id;
  for (const [field, id] of Object.entries(CODE_SELECTS)) {
    if (shown && document.activeElement === $(id)) continue;
    codes[field] = log[field] || "";
  }
}

function secondsLeft(log) {
  if (log.wrap_up_until == null) return null;
  const left = log.wrap_up_until - serverNow();
  // A clock guess gone wrong must never show more than the wrap-up time itself.
  const whole = log.wrap_up_until - (log.ended_at ?? log.wrap_up_until);
  return Math.min(left, whole);
}

export function clearWrapUp() {
  clearInterval(state.wrapTimer);
  $("wrapup").hidden = true;
  for (const id of ["wrapup-title", "wrapup-number", "wrapup-facts", "wrapup-countdown",
    "wrapup-more", "wrapup-hint"]) $(id).textContent = "";
  $("wrapup").querySelector(".badge").textContent = "";
  $("wrapup-actions").replaceChildren();
  $("wrapup-pick").replaceChildren();
}

export function renderWrapUp(log, count) {
  clearInterval(state.wrapTimer);
  const panel = $("wrapup");
  panel.hidden = false;
  panel.querySelector(".badge").textContent = t("cleared");
  const record = state.picks.has(log.call_id) ? state.picks.get(log.call_id) : recordOf(log);
  $("wrapup-title").textContent = record?.name || log.number_display || t("withheld");
  $("wrapup-number").textContent = record ? log.number_display : "";
  const direction = t(`dir_${log.direction}`);
  const talked = log.answered_at && log.ended_at
    ? formatDuration(log.ended_at - log.answered_at) : t("notAnswered");
  $("wrapup-facts").textContent = `${direction} · ${talked}`;
  renderPick($("wrapup-pick"), log.call_id, log.matches, log.picked);

  const view = wrapUpView();
  const codes = codesFor(log);
  const classification = $("classification");
  for (const id of Object.values(CODE_SELECTS)) $(id).dataset.shown = log.call_id;
  $("classification-field").hidden = view.classification_codes.length === 0;
  fillSelect(classification, view.classification_required ? t("choose") : t("noCode"),
    view.classification_codes, codes.classification);
  classification.required = view.classification_required;
  $("account-field").hidden = view.account_codes.length === 0;
  fillSelect($("account-code"), t("noCode"), view.account_codes, codes.account_code);
  for (const id of Object.values(CODE_SELECTS)) $(id).dataset.call = log.call_id;
  $("wrapup-codes").hidden = view.classification_codes.length + view.account_codes.length === 0;

  const blocked = view.classification_required && !codes.classification;
  const busy = state.wrapBusy.has(log.call_id);
  $("wrapup-hint").textContent = blocked ? t("classificationNeeded") : "";
  $("wrapup-actions").replaceChildren(...view.actions.map((action, i) => {
    const button = el("button", i === 0 ? "btn brand-plain" : "btn", actionLabel(action));
    button.type = "button";
    button.dataset.key = `action-${action.id}`;
    button.disabled = blocked || busy;
    if (blocked) button.setAttribute("aria-describedby", "wrapup-hint");
    button.addEventListener("click", () => wrapUp(log.call_id, action));
    return button;
  }));
  const tick = () => {
    const left = secondsLeft(log);
    $("wrapup-countdown").textContent = left == null ? ""
      : left > 0 ? t("autoSaveIn", { time: clock(left) }) : t("autoSaving");
  };
  tick();
  state.wrapTimer = setInterval(tick, 1000);
  $("wrapup-more").textContent = count > 1 ? t("moreWrapUps", { count: count - 1 }) : "";
}

function wrapUp(callId, action) {
  const view = wrapUpView();
  const codes = state.codes.get(callId) || { classification: "", account_code: "" };
  if (view.classification_required && !codes.classification) {
    $("classification").focus();
    return;
  }
  // Whatever was typed is saved before the call is.
  const editor = state.editor;
  if (editor.callId === callId && (editor.dirty || editor.timer)) flushNotes();
  notice("");
  const message = { type: "wrap_up", call_id: callId, action: action.id };
  if (codes.classification) message.classification = codes.classification;
  if (codes.account_code) message.account_code = codes.account_code;
  if (!send(message)) {
    notice(t("errorOffline"));
    return;
  }
  state.wrapBusy.add(callId);
  if (action.new_task) state.newTaskFor.add(callId);
  emit("changed");
}

// A code chosen here is told to the server at once: every tab shows it, and a required
// classification chosen early lets the agent cancel the work timer.
function codeChanged(field, value) {
  const log = wrappingLogs()[0];
  if (!log) return;
  const codes = codesFor(log);
  codes[field] = value;
  notice("");
  send({
    type: "set_codes", call_id: log.call_id,
    classification: codes.classification, account_code: codes.account_code,
  });
  emit("changed");
}

export function setupWrapUp() {
  on("live_log", codesFromLog);
  for (const [field, id] of Object.entries(CODE_SELECTS)) {
    $(id).addEventListener("change", (event) => codeChanged(field, event.target.value));
  }
}
