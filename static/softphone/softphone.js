// The softphone page: sign-in, the agent's calls as the server reports them, and pops; call
// notes and wrap-up; favorites, call history, quick notes and the agent's own settings.
// Anything that comes from outside (names, numbers, notes) is only ever set as text.
import { AgentSocket } from "./agent-socket.js";
import { connectHost } from "./cti-host.js";
import { loadStrings, t } from "./i18n.js";

const SESSION_KEY = "softphone.session";
const POPPED_KEY = "softphone.popped";
const $ = (id) => document.getElementById(id);

const DIALPAD_KEYS = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "0", "#"];
const POP_RULES = ["ani", "dnis", "ivr", "new_contact"];
const RULE_KEYS = { ani: "ruleAni", dnis: "ruleDnis", ivr: "ruleIvr", new_contact: "ruleNewContact" };
const MATCH_OBJECTS = ["Contact", "Account", "Lead"];
const WHO_OBJECTS = new Set(["Contact", "Lead"]);
// The server's default wrap-up actions, translated; an admin's own labels are shown as they are.
const DEFAULT_ACTIONS = {
  save_exit: "Save & Exit",
  save_new_task: "Save & New Task",
  follow_up: "Save & Follow-up tomorrow",
};
const ERROR_KEYS = {
  favorites_full: "errorFavoritesFull",
  quick_notes_full: "errorQuickNotesFull",
  classification_required: "errorClassificationRequired",
  call_in_progress: "errorCallInProgress",
  already_logged: "errorAlreadyLogged",
};
const LIVE_LOGS = new Set(["open", "wrapping"]);
const MAX_NOTES = 4000;
const MAX_CALL_QUICK_NOTES = 20;
const SAVE_DELAY_MS = 800;

const state = {
  session: JSON.parse(sessionStorage.getItem(SESSION_KEY) || "null"),
  calls: new Map(),
  status: null,
  popped: new Set(JSON.parse(sessionStorage.getItem(POPPED_KEY) || "[]")),
  host: null,
  socket: null,
  timer: null,
  // Call logs the agent can still change (open during the call, wrapping after it).
  logs: new Map(),
  data: null,
  wrapUp: null,
  view: "main",
  // The one notes editor, bound to one call log at a time.
  editor: { callId: null, quick: [], dirty: false, timer: null, saving: false },
  picks: new Map(),
  codes: new Map(),
  wrapBusy: new Set(),
  newTaskFor: new Set(),
  // Logs saved or dropped: a late save of their notes is refused, and that is no news.
  doneLogs: new Set(),
  wrapShown: null,
  wrapTimer: null,
  historyList: "all",
  settingsTab: "general",
  draft: null,
  savingSettings: false,
  toastTimer: null,
};

function show(screen) {
  for (const el of document.querySelectorAll(".screen")) el.hidden = el.id !== `screen-${screen}`;
}

function notice(text) {
  $("notice").textContent = text || "";
  $("notice").hidden = !text;
}

function toast(text) {
  clearTimeout(state.toastTimer);
  $("toast").textContent = text;
  state.toastTimer = setTimeout(() => { $("toast").textContent = ""; }, 5000);
}

function settings() {
  return state.data?.settings || {};
}

function debug(...args) {
  if (settings().debug_logs) console.debug("[softphone]", ...args);
}

function send(message) {
  debug("out", message);
  return state.socket ? state.socket.send(message) : false;
}

function httpBase(host) {
  return `${location.protocol}//${host}`;
}

function wsUrl(host) {
  return `${location.protocol === "https:" ? "wss:" : "ws:"}//${host}/ws/agent`;
}

// ---- small DOM helpers (text only, never markup) ---------------------------------------
const SVG = "http://www.w3.org/2000/svg";
const ICONS = {
  star: "M12 2.8l2.8 5.9 6.5.8-4.8 4.4 1.3 6.4L12 17.1l-5.8 3.2 1.3-6.4-4.8-4.4 6.5-.8z",
  person: "M12 12a4.5 4.5 0 1 0 0-9 4.5 4.5 0 0 0 0 9zm0 2c-4.4 0-8 2.2-8 5v2h16v-2c0-2.8-3.6-5-8-5z",
  up: "M13 20h-2V8.8l-4.6 4.6L5 12l7-7 7 7-1.4 1.4L13 8.8z",
  down: "M11 4h2v11.2l4.6-4.6L19 12l-7 7-7-7 1.4-1.4 4.6 4.6z",
  close: "M18.4 7 17 5.6l-5 5-5-5L5.6 7l5 5-5 5L7 18.4l5-5 5 5 1.4-1.4-5-5z",
  inbound: "M19 6.4 17.6 5 7 15.6V9H5v10h10v-2H8.4z",
  outbound: "M5 17.6 6.4 19 17 8.4V15h2V5H9v2h6.6z",
  block: "M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20zm0 2a8 8 0 0 1 4.9 1.7L5.7 16.9A8 8 0 0 1 12 4zm0 16a8 8 0 0 1-4.9-1.7L18.3 7.1A8 8 0 0 1 12 20z",
  plus: "M11 5h2v6h6v2h-6v6h-2v-6H5v-2h6z",
};

function icon(name) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  svg.setAttribute("class", `icon icon-${name}`);
  const path = document.createElementNS(SVG, "path");
  path.setAttribute("d", ICONS[name]);
  svg.append(path);
  return svg;
}

function el(tag, className = "", text = "") {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text) node.textContent = text;
  return node;
}

// A button that shows only an icon: its name is its aria-label (and, with tooltips, its title).
function iconButton(name, label, key, onClick) {
  const button = el("button", "btn-icon");
  button.type = "button";
  button.setAttribute("aria-label", label);
  button.dataset.tip = "";
  button.dataset.key = key;
  button.append(icon(name));
  button.addEventListener("click", onClick);
  return button;
}

function applyTooltips() {
  const on = settings().tooltips !== false;
  for (const node of document.querySelectorAll("[data-tip]")) {
    if (on) node.title = node.getAttribute("aria-label") || "";
    else node.removeAttribute("title");
  }
}

function visible(node) {
  return node.isConnected && !node.closest("[hidden]");
}

// ---- sign-in -----------------------------------------------------------------------------
async function signIn(event) {
  event.preventDefault();
  // Agents paste whole URLs as often as host names: keep only host[:port].
  const host = $("host").value.trim().replace(/^[a-z]+:\/\//i, "").replace(/\/.*$/, "");
  const address = $("address").value.trim();
  const password = $("password").value;
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
    const response = await fetch(`${httpBase(host)}/api/v1/sessions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ address, password }),
    });
    if (response.status === 401) {
      error.textContent = t("errorWrongCredentials");
      $("password").select();
      return;
    }
    if (!response.ok) {
      error.textContent = t("errorRequired");
      return;
    }
    const body = await response.json();
    state.session = { host, token: body.token, agent: body.agent };
    sessionStorage.setItem(SESSION_KEY, JSON.stringify(state.session));
    $("password").value = "";
    startSession();
  } catch {
    error.textContent = t("errorUnreachable", { host });
  } finally {
    button.disabled = false;
    button.textContent = t("signIn");
  }
}

async function signOut() {
  const session = state.session;
  endSession();
  if (session) {
    fetch(`${httpBase(session.host)}/api/v1/sessions`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${session.token}` },
    }).catch(() => {});
  }
}

function endSession(message = "") {
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
  clearInterval(state.wrapTimer);
  $("state-control").hidden = true;
  $("open-settings").hidden = true;
  sessionStorage.removeItem(SESSION_KEY);
  $("connection").textContent = "";
  show("signin");
  $("signin-error").textContent = message;
  $("address").focus();
}

function startSession() {
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
  render();
}

function connectionStatus(status) {
  const node = $("connection");
  node.dataset.state = status.state;
  node.textContent = status.state === "reconnecting"
    ? t("reconnecting", { seconds: status.seconds })
    : t(status.state);
}

// ---- messages from the server ------------------------------------------------------------
function receive(message) {
  debug("in", message);
  if (message.type === "welcome") {
    state.calls = new Map(message.calls.map((c) => [c.call_id, c]));
    state.status = message.status;
    state.logs = new Map((message.logs || []).filter((l) => LIVE_LOGS.has(l.state))
      .map((l) => [l.call_id, l]));
    if (message.data) state.data = message.data;
    if (message.wrap_up) state.wrapUp = message.wrap_up;
    renderStatus();
    for (const call of message.calls) popIfOwed(call);
    // Notes typed while the connection was down are sent now.
    if (state.editor.dirty) flushNotes();
  } else if (message.type === "agent") {
    state.status = message.status;
    renderStatus();
  } else if (message.type === "call") {
    const call = message.call;
    if (call.state === "cleared") {
      state.calls.set(call.call_id, call);
      // Keep an ended call on screen briefly so the agent sees what happened.
      setTimeout(() => {
        if (state.calls.get(call.call_id)?.state === "cleared") {
          state.calls.delete(call.call_id);
          render();
        }
      }, 2500);
    } else {
      const isNew = !state.calls.has(call.call_id);
      state.calls.set(call.call_id, call);
      if (isNew && call.state === "ringing") ringing();
      popIfOwed(call);
    }
  } else if (message.type === "log") {
    receiveLog(message);
  } else if (message.type === "data") {
    state.data = message.data;
    if (state.savingSettings) {
      state.savingSettings = false;
      state.draft = structuredClone(message.data.settings);
      $("settings-status").textContent = t("settingsSaved");
    } else if (state.draft && !state.draft.dirty) {
      state.draft = structuredClone(message.data.settings);
    }
  } else if (message.type === "error") {
    showError(message);
  } else {
    return;
  }
  render();
}

function showError(message) {
  if (message.code === "no_such_call" && state.doneLogs.has(message.call_id)) return;
  const key = ERROR_KEYS[message.code];
  notice(key ? t(key) : message.message);
  if (message.call_id) state.wrapBusy.delete(message.call_id);
  if (state.savingSettings) {
    state.savingSettings = false;
    $("settings-status").textContent = "";
  }
}

function receiveLog(message) {
  const log = message.log;
  state.picks.delete(log.call_id);
  if (LIVE_LOGS.has(log.state)) {
    state.logs.set(log.call_id, log);
    const editor = state.editor;
    if (editor.callId === log.call_id && editor.saving && !editor.dirty) {
      editor.saving = false;
      notesStatus(t("notesSaved"));
    }
    return;
  }
  // The log left the agent's hands: saved (queued) or not logged at all.
  const wasWrapping = state.logs.get(log.call_id)?.state === "wrapping";
  state.doneLogs.add(log.call_id);
  state.logs.delete(log.call_id);
  state.codes.delete(log.call_id);
  state.wrapBusy.delete(log.call_id);
  if (state.editor.callId === log.call_id) resetEditor();
  // Its call ended before it was saved: the wrap-up panel was its last word, not the call.
  if (wasWrapping && state.calls.get(log.call_id)?.state === "cleared") state.calls.delete(log.call_id);
  if (log.state === "queued" && wasWrapping) toast(t("callSaved"));
  // Only the page whose agent chose "Save & New Task" opens the form, not every tab.
  if (message.then === "new_task" && state.newTaskFor.has(log.call_id)) openNewTask(log);
  state.newTaskFor.delete(log.call_id);
}

function recordOf(log) {
  if (log.picked) return log.picked;
  return log.matches.length === 1 ? log.matches[0] : null;
}

function openNewTask(log) {
  const record = recordOf(log);
  const defaults = {};
  if (record) defaults[WHO_OBJECTS.has(record.object) ? "WhoId" : "WhatId"] = record.id;
  state.host.pop({ kind: "new_record", object: "Task", defaults, about: record?.name || "" });
}

function popRecord(object, id, name) {
  state.host.pop({ kind: "record", rule: "history", matches: [{ object, id, name }] });
}

function ringing() {
  state.view = "main";
  state.host.show();
  if (document.hasFocus()) queueMicrotask(() => $("answer").focus());
}

async function popIfOwed(call) {
  if (!call.pop || call.pop_delivered || call.state === "cleared") return;
  // An agent who pops at answer sees the caller's name while it rings, the record once answered.
  if (call.pop.when === "answer" && call.state !== "active") return;
  if (state.popped.has(call.call_id)) return;
  state.popped.add(call.call_id);
  sessionStorage.setItem(POPPED_KEY, JSON.stringify([...state.popped].slice(-50)));
  const ok = await state.host.pop(call.pop);
  if (ok) send({ type: "popped", call_id: call.call_id });
}

// The call the big screen is about: a ringing call first, then the one being spoken on
// (a consultation call before the call it consults from), then held ones, then a just-ended
// one that is not in wrap-up (a call in wrap-up has its own panel).
function currentCall() {
  const calls = [...state.calls.values()];
  const live = (c) => ["active", "conference", "dialing"].includes(c.state);
  return calls.find((c) => c.state === "ringing")
    || calls.find((c) => live(c) && c.consult_of)
    || calls.find(live)
    || calls.find((c) => c.state === "held" || c.state === "consultation")
    || calls.find((c) => c.state === "cleared" && !state.logs.has(c.call_id));
}

// The call on consultation hold while the agent consults from it, if any.
function consultingFrom() {
  return [...state.calls.values()].find((c) => c.state === "consultation");
}

function wrappingLogs() {
  return [...state.logs.values()].filter((l) => l.state === "wrapping")
    .sort((a, b) => (a.ended_at || 0) - (b.ended_at || 0));
}

// ---- call commands -----------------------------------------------------------------------
function command(type, fields = {}) {
  const call = currentCall();
  if (!call) return;
  notice("");
  send({ type, call_id: call.call_id, ...fields });
}

function numberCommand(type) {
  const number = $("transfer-number").value.trim();
  if (!number) {
    $("transfer-number").focus();
    return;
  }
  command(type, { number });
  $("transfer-number").value = "";
}

function consultCommand(type) {
  const original = consultingFrom();
  if (!original) return;
  notice("");
  send({ type, call_id: original.call_id });
}

function dial(event) {
  event.preventDefault();
  const number = $("dial-number").value.trim();
  if (!number) return;
  notice("");
  send({ type: "dial", number });
  $("dial-number").value = "";
}

// A number picked from favorites or history: dialled at once, or put in the dial field first.
function pickNumber(number) {
  if (!number) return;
  if (settings().edit_number) {
    const field = $("dial-number");
    field.value = number;
    field.focus();
    field.setSelectionRange(number.length, number.length);
    return;
  }
  notice("");
  send({ type: "dial", number });
}

function changeState() {
  const [value, reason] = $("agent-state").value.split(":");
  notice("");
  send({ type: "set_state", state: value, reason: reason || "" });
}

// ---- notes -------------------------------------------------------------------------------
function resetEditor() {
  const editor = state.editor;
  clearTimeout(editor.timer);
  Object.assign(editor, { callId: null, quick: [], dirty: false, timer: null, saving: false });
  $("notes").value = "";
  notesStatus("");
}

function notesStatus(text) {
  $("notes-status").textContent = text;
}

function flushNotes() {
  const editor = state.editor;
  clearTimeout(editor.timer);
  editor.timer = null;
  if (!editor.callId) return;
  const ok = send({
    type: "save_notes",
    call_id: editor.callId,
    notes: $("notes").value.slice(0, MAX_NOTES),
    quick_notes: editor.quick,
  });
  editor.dirty = !ok;
  editor.saving = ok;
  notesStatus(ok ? t("notesSaving") : t("notesNotSaved"));
  $("save-notes").disabled = ok;
}

function notesTyped() {
  const editor = state.editor;
  editor.dirty = true;
  editor.saving = false;
  if (settings().auto_save_notes !== false) {
    clearTimeout(editor.timer);
    editor.timer = setTimeout(flushNotes, SAVE_DELAY_MS);
    notesStatus("");
  } else {
    notesStatus(t("notesUnsaved"));
    $("save-notes").disabled = false;
  }
}

function setCallQuickNotes(quick) {
  state.editor.quick = quick;
  // Quick notes are saved at once, with the notes as they are now.
  flushNotes();
  renderEditor();
}

// Binds the notes editor to a call's log and moves it where that call is shown.
function bindEditor(callId, container) {
  const editor = state.editor;
  if (editor.callId !== callId) {
    if (editor.callId && (editor.dirty || editor.timer)) flushNotes();
    resetEditor();
    editor.callId = callId;
    const log = callId ? state.logs.get(callId) : null;
    $("notes").value = log?.notes || "";
    editor.quick = [...(log?.quick_notes || [])];
  } else if (callId && !editor.dirty && !editor.timer) {
    // Not typing: another tab's save (or ours, echoed) is the truth.
    const log = state.logs.get(callId);
    if (log) {
      if ($("notes").value !== log.notes) $("notes").value = log.notes;
      editor.quick = [...log.quick_notes];
    }
  }
  const node = $("notes-editor");
  if (!callId || !container) {
    node.hidden = true;
    return;
  }
  if (node.parentElement !== container) container.append(node);
  node.hidden = false;
  renderEditor();
}

function renderEditor() {
  const editor = state.editor;
  const data = state.data;
  const auto = settings().auto_save_notes !== false;
  $("notes-status").setAttribute("aria-live", auto ? "off" : "polite");
  $("save-notes").hidden = auto;
  $("save-notes").disabled = !editor.dirty;
  $("chips").replaceChildren(...editor.quick.map((text) => {
    const li = el("li", "chip");
    li.append(el("span", "chip-text", text));
    li.append(iconButton("close", t("removeQuickNote", { text }), `chip-${text}`,
      () => setCallQuickNotes(editor.quick.filter((q) => q !== text))));
    return li;
  }));
  $("chips").hidden = editor.quick.length === 0;
  const full = editor.quick.length >= MAX_CALL_QUICK_NOTES;
  const own = new Set(data?.own_quick_notes || []);
  const all = [...(data?.quick_notes || []), ...(data?.own_quick_notes || [])];
  const seen = new Set();
  $("quick-list").replaceChildren(...all.filter((text) => !seen.has(text) && seen.add(text))
    .map((text) => {
      const li = el("li");
      const add = el("button", "btn quick");
      add.type = "button";
      add.dataset.key = `quick-${text}`;
      add.append(icon("plus"), el("span", "", text));
      add.setAttribute("aria-label", t("addQuickNote", { text }));
      add.disabled = full || editor.quick.includes(text);
      add.addEventListener("click", () => setCallQuickNotes([...editor.quick, text]));
      li.append(add);
      if (own.has(text)) {
        li.append(iconButton("close", t("deleteQuickNote", { text }), `qdel-${text}`, () => {
          notice("");
          send({ type: "quick_note_remove", text });
        }));
      }
      return li;
    }));
}

function addQuickNote(event) {
  event.preventDefault();
  const text = $("quick-new").value.trim();
  if (!text) return;
  notice("");
  if (send({ type: "quick_note_add", text: text.slice(0, 200) })) $("quick-new").value = "";
}

// ---- record pick -------------------------------------------------------------------------
function renderPick(container, callId, matches, picked) {
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
      state.picks.set(callId, record);
      notice("");
      send({ type: "pick", call_id: callId, record });
    });
    label.append(radio);
    if (match) label.append(el("span", "object", match.object), el("span", "", match.name));
    else label.append(el("span", "", t("pickNone")));
    fieldset.append(label);
  }
  container.replaceChildren(fieldset);
}

// ---- wrap-up -----------------------------------------------------------------------------
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
  select.value = value;
}

function codesFor(log) {
  if (!state.codes.has(log.call_id)) {
    state.codes.set(log.call_id, {
      classification: log.classification || "", account_code: log.account_code || "",
    });
  }
  return state.codes.get(log.call_id);
}

function secondsLeft(log) {
  if (log.wrap_up_until == null) return null;
  const left = log.wrap_up_until - Date.now() / 1000;
  // The browser's clock may be behind the server's: never more than the wrap-up time itself.
  const whole = log.wrap_up_until - (log.ended_at ?? log.wrap_up_until);
  return Math.min(left, whole);
}

function clock(seconds) {
  const s = Math.max(0, Math.ceil(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

function clearWrapUp() {
  clearInterval(state.wrapTimer);
  $("wrapup").hidden = true;
  for (const id of ["wrapup-title", "wrapup-number", "wrapup-facts", "wrapup-countdown",
    "wrapup-more", "wrapup-hint"]) $(id).textContent = "";
  $("wrapup").querySelector(".badge").textContent = "";
  $("wrapup-actions").replaceChildren();
  $("wrapup-pick").replaceChildren();
}

function renderWrapUp(log, count) {
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
  $("classification-field").hidden = view.classification_codes.length === 0;
  fillSelect(classification, view.classification_required ? t("choose") : t("noCode"),
    view.classification_codes, codes.classification);
  classification.required = view.classification_required;
  $("account-field").hidden = view.account_codes.length === 0;
  fillSelect($("account-code"), t("noCode"), view.account_codes, codes.account_code);
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
  render();
}

function codeChanged(field, value) {
  const log = wrappingLogs()[0];
  if (!log) return;
  codesFor(log)[field] = value;
  render();
}

// ---- favorites and history ---------------------------------------------------------------
function isFavorite(number) {
  return (state.data?.favorites || []).some((f) => f.number === number);
}

function toggleFavorite(entry) {
  notice("");
  if (isFavorite(entry.number)) {
    send({ type: "favorite_remove", number: entry.number });
  } else {
    send({
      type: "favorite_add",
      favorite: {
        number: entry.number.slice(0, 40),
        name: (entry.name || "").slice(0, 80),
        object: (entry.object || "").slice(0, 40),
        record_id: (entry.record_id || "").slice(0, 18),
      },
    });
  }
}

function addFavorite(event) {
  event.preventDefault();
  const number = $("favorite-number").value.trim();
  const name = $("favorite-name").value.trim();
  if (!number) {
    $("favorite-number").focus();
    return;
  }
  notice("");
  const favorite = { number: number.slice(0, 40), name: name.slice(0, 80), object: "", record_id: "" };
  if (send({ type: "favorite_add", favorite })) {
    $("favorite-number").value = "";
    $("favorite-name").value = "";
  }
}

// One favorite or history entry: a button that calls, a star, and the record when there is one.
function entryItem(entry, key, subtitle, kind) {
  const li = el("li", "entry");
  const label = entry.name || entry.number || t("withheld");
  const main = el("button", "entry-main");
  main.type = "button";
  main.dataset.key = `${key}-call`;
  main.disabled = !entry.number;
  if (kind) main.append(icon(kind.icon));
  if (kind?.missed) main.classList.add("missed");
  const text = el("span", "entry-text");
  text.append(el("span", "sr-only", `${t("callPrefix")} `), el("span", "entry-name", label));
  if (subtitle) text.append(el("span", "entry-sub", subtitle));
  main.append(text);
  main.addEventListener("click", () => pickNumber(entry.number));
  li.append(main);
  if (entry.record_id) {
    li.append(iconButton("person", t("openRecord", { name: label }), `${key}-record`,
      () => popRecord(entry.object, entry.record_id, entry.name)));
  }
  if (entry.number) {
    const star = iconButton("star", t("favoriteToggle", { name: label }), `${key}-star`,
      () => toggleFavorite(entry));
    star.classList.add("star");
    star.setAttribute("aria-pressed", String(isFavorite(entry.number)));
    li.append(star);
  }
  return li;
}

function when(timestamp) {
  const date = new Date(timestamp * 1000);
  const today = date.toDateString() === new Date().toDateString();
  const options = today ? { hour: "2-digit", minute: "2-digit" }
    : { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" };
  return new Intl.DateTimeFormat(document.documentElement.lang, options).format(date);
}

function historySubtitle(entry) {
  const outcome = entry.outcome === "answered"
    ? formatDuration(entry.duration) : t(`outcome_${entry.outcome}`);
  const parts = [];
  if (entry.name && entry.number) parts.push(entry.number);
  parts.push(when(entry.started_at), outcome);
  return parts.join(" · ");
}

function renderLists() {
  const data = state.data;
  $("favorites-block").hidden = !data;
  $("history-block").hidden = !data;
  if (!data) return;
  $("favorites").replaceChildren(...data.favorites.map((f) => entryItem(
    f, `fav-${f.number}`, f.name ? f.number : "", null,
  )));
  $("favorites-empty").hidden = data.favorites.length > 0;
  const list = data.history?.[state.historyList] || [];
  for (const tab of $("history-tabs").querySelectorAll("[role=tab]")) {
    const selected = tab.dataset.list === state.historyList;
    tab.setAttribute("aria-selected", String(selected));
    tab.tabIndex = selected ? 0 : -1;
    if (selected) $("history-panel").setAttribute("aria-labelledby", tab.id);
  }
  $("history").replaceChildren(...list.map((entry) => entryItem(
    entry, `hist-${entry.call_id}`, historySubtitle(entry), {
      icon: entry.placed ? "outbound" : "inbound",
      missed: entry.outcome === "missed",
    },
  )));
  $("history-empty").hidden = list.length > 0;
}

// ---- tabs (arrow keys move between tabs, as WAI-ARIA tabs do) ------------------------------
function setupTabs(list, select) {
  list.addEventListener("click", (event) => {
    const tab = event.target.closest("[role=tab]");
    if (tab) select(tab);
  });
  list.addEventListener("keydown", (event) => {
    const tabs = [...list.querySelectorAll("[role=tab]")];
    const i = tabs.indexOf(document.activeElement);
    const next = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 }[event.key];
    if (i < 0 || next === undefined) return;
    event.preventDefault();
    const tab = tabs[(next + tabs.length) % tabs.length];
    select(tab);
    tab.focus();
  });
}

// ---- settings ----------------------------------------------------------------------------
const CHECKS = {
  "set-tooltips": "tooltips",
  "set-edit-number": "edit_number",
  "set-auto-save": "auto_save_notes",
  "set-debug": "debug_logs",
  "set-log-inbound": "log_inbound",
  "set-log-outbound": "log_outbound",
  "set-log-internal": "log_internal",
};

function openSettings() {
  if (!state.data) return;
  state.view = "settings";
  state.draft = structuredClone(state.data.settings);
  $("settings-status").textContent = "";
  render();
  $("settings-title").focus();
}

function closeSettings() {
  state.view = "main";
  state.draft = null;
  render();
  $("open-settings").focus();
}

function draftChanged() {
  state.draft.dirty = true;
  $("settings-status").textContent = "";
}

function ruleName(rule) {
  return t(RULE_KEYS[rule]);
}

function moveRule(rule, to) {
  const order = state.draft.pop_order.filter((r) => r !== rule);
  if (to !== null) order.splice(Math.max(0, Math.min(to, order.length)), 0, rule);
  state.draft.pop_order = order;
  draftChanged();
  render();
  $("settings-status").textContent = to === null
    ? t("ruleMovedOff", { rule: ruleName(rule) })
    : t("ruleMoved", { rule: ruleName(rule), n: order.indexOf(rule) + 1, count: order.length });
}

function ruleButton(name, label, key, disabled, onClick) {
  const button = iconButton(name, label, key, () => {
    if (button.getAttribute("aria-disabled") !== "true") onClick();
  });
  // Still focusable when it can do nothing, so focus never falls out of the list.
  if (disabled) button.setAttribute("aria-disabled", "true");
  return button;
}

function renderSettings() {
  const draft = state.draft;
  for (const [id, field] of Object.entries(CHECKS)) $(id).checked = Boolean(draft[field]);
  if (document.activeElement !== $("set-subject")) $("set-subject").value = draft.call_subject;
  $("set-pop-ringing").checked = draft.pop_at === "ringing";
  $("set-pop-answer").checked = draft.pop_at === "answer";
  $("set-ivr-exact").checked = draft.ivr_match === "exact";
  $("set-ivr-start").checked = draft.ivr_match === "start_with";
  for (const object of MATCH_OBJECTS) {
    $(`set-match-${object}`).checked = draft.match_objects.includes(object);
  }
  for (const tab of $("settings-tabs").querySelectorAll("[role=tab]")) {
    const selected = tab.dataset.panel === state.settingsTab;
    tab.setAttribute("aria-selected", String(selected));
    tab.tabIndex = selected ? 0 : -1;
    $(tab.getAttribute("aria-controls")).hidden = !selected;
  }
  const order = draft.pop_order;
  $("pop-order").replaceChildren(...order.map((rule, i) => {
    const li = el("li", "rule");
    const name = ruleName(rule);
    li.append(el("span", "rule-name", name));
    li.append(
      ruleButton("up", t("moveUp", { rule: name }), `up-${rule}`, i === 0,
        () => moveRule(rule, i - 1)),
      ruleButton("down", t("moveDown", { rule: name }), `down-${rule}`, i === order.length - 1,
        () => moveRule(rule, i + 1)),
      ruleButton("block", t("ruleOff", { rule: name }), `off-${rule}`, false, () => {
        moveRule(rule, null);
        $("no-pop").querySelector(`[data-key="on-${rule}"]`)?.focus();
      }),
    );
    return li;
  }));
  const off = POP_RULES.filter((rule) => !order.includes(rule));
  $("no-pop").replaceChildren(...off.map((rule) => {
    const li = el("li", "rule");
    const name = ruleName(rule);
    li.append(el("span", "rule-name", name));
    li.append(ruleButton("plus", t("ruleOn", { rule: name }), `on-${rule}`, false, () => {
      moveRule(rule, order.length);
      $("pop-order").querySelector(`[data-key="down-${rule}"]`)?.focus();
    }));
    return li;
  }));
  $("no-pop-empty").hidden = off.length > 0;
}

function saveSettings(event) {
  event.preventDefault();
  if (!state.draft) return;
  const { dirty, ...values } = state.draft;
  values.call_subject = $("set-subject").value.trim().slice(0, 80);
  notice("");
  if (send({ type: "save_settings", settings: values })) {
    state.savingSettings = true;
    $("settings-status").textContent = t("settingsSaving");
  } else {
    notice(t("errorOffline"));
  }
}

function setupSettings() {
  $("open-settings").addEventListener("click", () => {
    if (state.view === "settings") closeSettings();
    else openSettings();
  });
  $("settings-close").addEventListener("click", closeSettings);
  $("settings-form").addEventListener("submit", saveSettings);
  setupTabs($("settings-tabs"), (tab) => {
    state.settingsTab = tab.dataset.panel;
    render();
  });
  for (const [id, field] of Object.entries(CHECKS)) {
    $(id).addEventListener("change", () => {
      state.draft[field] = $(id).checked;
      draftChanged();
    });
  }
  $("set-subject").addEventListener("input", () => {
    state.draft.call_subject = $("set-subject").value.slice(0, 80);
    draftChanged();
  });
  for (const [name, field] of [["pop-at", "pop_at"], ["ivr-match", "ivr_match"]]) {
    for (const radio of document.querySelectorAll(`input[name="${name}"]`)) {
      radio.addEventListener("change", () => {
        state.draft[field] = radio.value;
        draftChanged();
      });
    }
  }
  for (const object of MATCH_OBJECTS) {
    $(`set-match-${object}`).addEventListener("change", () => {
      const chosen = MATCH_OBJECTS.filter((o) => $(`set-match-${o}`).checked);
      state.draft.match_objects = chosen;
      draftChanged();
    });
  }
}

// ---- rendering ---------------------------------------------------------------------------
function renderStatus() {
  const status = state.status;
  if (!status) return;
  $("state-control").hidden = false;
  const select = $("agent-state");
  const options = [["ready", t("stateReady")], ["dnd", t("stateDnd")]];
  for (const reason of status.reason_codes) options.push([`busy:${reason}`, t("stateBusy", { reason })]);
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
  // Desk phone users are always logged in; hot-desk and ACD agents log in and out.
  const canLogOut = status.kind !== "regular";
  $("phone-logout").hidden = !canLogOut || status.state === "logged_out";
  $("phone-login").hidden = !canLogOut || status.state !== "logged_out";
  $("dial-form").hidden = status.state === "logged_out";
  const acd = status.kind === "acd" && status.acd_groups.length > 0;
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

function formatDuration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const mm = String(Math.floor(s / 60)).padStart(2, "0");
  const ss = String(s % 60).padStart(2, "0");
  return s >= 3600 ? `${Math.floor(s / 3600)}:${mm.slice(-2)}:${ss}` : `${mm}:${ss}`;
}

function detail(list, label, value) {
  if (!value) return;
  const dt = document.createElement("dt");
  dt.textContent = label;
  const dd = document.createElement("dd");
  dd.textContent = value;
  list.append(dt, dd);
}

// Re-renders keep the agent's focus: on the same element, or on its replacement (data-key).
function render() {
  const active = document.activeElement;
  const hadFocus = active && active !== document.body;
  const key = active?.dataset?.key;
  renderScreens();
  if (!hadFocus || (document.activeElement === active && visible(active))) return;
  if (key) {
    const twin = [...document.querySelectorAll("[data-key]")]
      .find((node) => node.dataset.key === key && visible(node));
    if (twin) {
      twin.focus();
      return;
    }
  }
  if (!state.session || $("screen-idle").hidden) return;
  // What had focus went away: the notes of a call just ended, else the dial field.
  (state.wrapShown ? $("notes") : $("dial-number")).focus();
}

function renderScreens() {
  clearInterval(state.timer);
  if (!state.session) return;
  $("open-settings").hidden = !state.data;
  $("open-settings").setAttribute("aria-pressed", String(state.view === "settings"));
  const call = currentCall();
  const wrapping = wrappingLogs();
  // A call that just went into wrap-up brings the agent back from settings to its panel.
  const wrapId = wrapping[0]?.call_id || null;
  if (wrapId && wrapId !== state.wrapShown && !call) state.view = "main";
  const settingsShown = state.view === "settings" && state.draft;
  if (call && (call.state === "ringing" || !settingsShown)) {
    clearWrapUp();
    renderCall(call);
  } else if (settingsShown) {
    clearWrapUp();
    bindEditor(wrapId, null);
    $("call-state").textContent = "";
    show("settings");
    renderSettings();
  } else {
    $("call-state").textContent = "";
    show("idle");
    if (wrapping.length) {
      bindEditor(wrapId, $("wrapup-notes"));
      renderWrapUp(wrapping[0], wrapping.length);
    } else {
      bindEditor(null, null);
      clearWrapUp();
    }
  }
  state.wrapShown = call ? null : wrapId;
  renderLists();
  applyTooltips();
}

function renderCall(call) {
  show("call");
  const screen = $("screen-call");
  screen.dataset.state = call.state;
  $("call-state").textContent = t(call.state);
  $("call-state").dataset.state = call.state;
  const outgoing = call.placed;
  if (outgoing) {
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
  const details = $("call-details");
  details.replaceChildren();
  if (!outgoing) detail(details, t("dnis"), call.dnis);
  detail(details, t("queue"), call.queue);
  detail(details, t("ivr"), call.ivr.join(", "));
  const s = call.state;
  const logId = call.consult_of || call.call_id;
  const log = state.logs.get(logId);
  const matches = call.pop?.kind === "record" ? call.pop.matches : (log?.matches || []);
  // Several matches: the agent picks the one the call is logged against.
  const picking = matches.length > 1 && !call.consult_of && s !== "cleared";
  $("matches-block").hidden = matches.length === 0 || picking;
  $("matches").replaceChildren(...(picking ? [] : matches).map((m) => {
    const li = document.createElement("li");
    const kind = document.createElement("span");
    kind.className = "object";
    kind.textContent = m.object;
    li.append(kind, document.createTextNode(` ${m.name}`));
    return li;
  }));
  renderPick($("call-pick"), logId, picking ? matches : [], log?.picked || null);
  // Notes once the call is under way, unless the agent does not log this kind of call.
  const logged = settings()[`log_${call.direction}`] !== false;
  const notes = logged && !["ringing", "cleared"].includes(s);
  bindEditor(notes ? logId : null, notes ? $("call-notes") : null);
  const consulting = consultingFrom();
  const talking = s === "active" || s === "conference";
  $("answer").hidden = s !== "ringing";
  $("hold").hidden = !talking;
  $("retrieve").hidden = !(s === "held" || s === "consultation");
  $("complete-transfer").hidden = !(consulting && call.consult_of);
  $("conference").hidden = !(consulting && call.consult_of);
  $("hangup").hidden = s === "cleared" || s === "consultation";
  $("transfer-form").hidden = !(s === "ringing" || (talking && !call.consult_of));
  $("consult").hidden = !talking;
  $("transfer").hidden = s !== "active";
  $("redirect").hidden = s !== "ringing";
  $("dialpad-toggle").hidden = !talking;
  if (!talking) {
    $("dialpad").hidden = true;
    $("dialpad-toggle").setAttribute("aria-expanded", "false");
  }
  const others = [...state.calls.values()].filter((c) => c !== call && c.state !== "cleared");
  $("other-calls-block").hidden = others.length === 0;
  $("other-calls").replaceChildren(...others.map((c) => {
    const li = document.createElement("li");
    const kind = document.createElement("span");
    kind.className = "object";
    kind.textContent = t(c.state);
    li.append(kind, document.createTextNode(` ${c.caller_name || c.ani_display || c.parties[0]?.number || ""}`));
    return li;
  }));
  if (s === "conference") {
    $("caller-number").textContent = call.parties.map((p) => p.number).join(", ");
  }
  const tick = () => {
    $("call-timer").textContent = call.answered_at && s !== "cleared"
      ? formatDuration(Date.now() / 1000 - call.answered_at) : "";
  };
  tick();
  if (call.answered_at && s !== "cleared") state.timer = setInterval(tick, 1000);
}

function standalonePop(pop) {
  const list = $("pop-list");
  const li = document.createElement("li");
  if (pop.kind === "record") {
    li.textContent = pop.matches.map((m) => `${m.object}: ${m.name}`).join(", ");
  } else if (pop.kind === "search") {
    li.textContent = t("popSearch", { number: pop.search });
  } else if (pop.object === "Task") {
    li.textContent = pop.about ? t("popNewTaskFor", { name: pop.about }) : t("popNewTask");
  } else {
    li.textContent = t("popNew", { number: pop.defaults.Phone || "" });
  }
  list.prepend(li);
  $("standalone-pops").hidden = false;
}

async function main() {
  await loadStrings();
  state.host = await connectHost(standalonePop);
  $("signin-form").addEventListener("submit", signIn);
  $("signout").addEventListener("click", signOut);
  $("answer").addEventListener("click", () => command("answer"));
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
  $("notes").addEventListener("input", notesTyped);
  $("notes").addEventListener("blur", () => {
    if (state.editor.timer) flushNotes();
  });
  $("save-notes").addEventListener("click", flushNotes);
  $("quick-form").addEventListener("submit", addQuickNote);
  $("favorite-form").addEventListener("submit", addFavorite);
  $("classification").addEventListener("change", (e) => codeChanged("classification", e.target.value));
  $("account-code").addEventListener("change", (e) => codeChanged("account_code", e.target.value));
  setupTabs($("history-tabs"), (tab) => {
    state.historyList = tab.dataset.list;
    render();
  });
  setupSettings();
  $("host").value = location.host;
  if (state.session) {
    startSession();
  } else {
    show("signin");
  }
  // Only now is the phone usable: Salesforce falls back to the standby URL until we say so.
  state.host.ready();
  document.body.dataset.ready = "true";
}

main();
