// Messages from the server, and the pops they owe. A pop is opened by one page only: the one
// the server names as used last pops at once, the others wait a moment and pop only if the
// server still has not heard of the pop (that page may have closed meanwhile).
import { emit } from "./events.js";
import { t } from "./i18n.js";
import { flushNotes, notesStatus, resetEditor } from "./notes.js";
import { callMoved, notifyIncoming } from "./notifications.js";
import { $, LIVE_LOGS, POPPED_KEY, debug, notice, send, state, toast } from "./state.js";
import { tabStorage } from "./storage.js";

const WHO_OBJECTS = new Set(["Contact", "Lead"]);
const ERROR_KEYS = {
  favorites_full: "errorFavoritesFull",
  quick_notes_full: "errorQuickNotesFull",
  classification_required: "errorClassificationRequired",
  call_in_progress: "errorCallInProgress",
  already_logged: "errorAlreadyLogged",
};
// The search's own errors go to the search ("search_error"); any other is for the notice line.
const SEARCH_ERRORS = new Set(["slow_down", "search_unavailable", "search_failed"]);
// How long a page the agent is not using waits for the one they use to open a pop.
const POP_GRACE_MS = 2000;
// A page tells the server it is in use at most this often (focus, clicks and keys are many).
const ACTIVE_EVERY_MS = 1000;
const waiting = new Set();
let lastActive = 0;

// This page is the one the agent is using now (loaded, shown, clicked or typed in). The
// server keeps each agent's pages in order of use and names the last one as the owner of
// every owed pop, so exactly one page pops at once, whichever browser or PC it is in.
export function markActive() {
  const now = Date.now();
  if (now - lastActive < ACTIVE_EVERY_MS) return;
  if (send({ type: "active" })) lastActive = now;
}

function usedLast(call) {
  return !call.pop_owner || call.pop_owner === state.page;
}

export function receive(message) {
  debug("in", message);
  if (message.type === "welcome") {
    state.page = message.page || "";
    state.clockOffset = message.now ? message.now - Date.now() / 1000 : 0;
    state.calls = new Map(message.calls.map((c) => [c.call_id, c]));
    state.status = message.status;
    state.logs = new Map((message.logs || []).filter((l) => LIVE_LOGS.has(l.state))
      .map((l) => [l.call_id, l]));
    for (const log of state.logs.values()) emit("live_log", log);
    if (message.data) state.data = message.data;
    if (message.wrap_up) state.wrapUp = message.wrap_up;
    emit("status");
    for (const call of message.calls) popIfOwed(call);
    // Notes typed while the connection was down are sent now.
    if (state.editor.dirty) flushNotes();
  } else if (message.type === "agent") {
    state.status = message.status;
    emit("status");
  } else if (message.type === "call") {
    receiveCall(message.call);
  } else if (message.type === "log") {
    receiveLog(message);
  } else if (message.type === "data") {
    state.data = message.data;
    if (state.savingSettings) emit("settings_saved", message.data.settings);
    else if (state.draft && !state.draft.dirty) state.draft = structuredClone(message.data.settings);
  } else if (message.type === "search_results") {
    emit("search_results", message);
    return;
  } else if (message.type === "error") {
    if (SEARCH_ERRORS.has(message.code)) {
      emit("search_error", message);
      return;
    }
    showError(message);
  } else {
    return;
  }
  emit("changed");
}

function receiveCall(call) {
  callMoved(call);
  if (call.state === "cleared") {
    state.calls.set(call.call_id, call);
    // Keep an ended call on screen briefly so the agent sees what happened.
    setTimeout(() => {
      if (state.calls.get(call.call_id)?.state === "cleared") {
        state.calls.delete(call.call_id);
        emit("changed");
      }
    }, 2500);
    return;
  }
  const isNew = !state.calls.has(call.call_id);
  state.calls.set(call.call_id, call);
  if (isNew && call.state === "ringing") ringing(call);
  popIfOwed(call);
}

function showError(message) {
  if (message.code === "no_such_call" && state.doneLogs.has(message.call_id)) return;
  const key = ERROR_KEYS[message.code];
  notice(key ? t(key) : message.message);
  if (message.call_id) state.wrapBusy.delete(message.call_id);
  if (state.savingSettings) emit("settings_refused");
}

function receiveLog(message) {
  const log = message.log;
  state.picks.delete(log.call_id);
  if (LIVE_LOGS.has(log.state)) {
    state.logs.set(log.call_id, log);
    emit("live_log", log);
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

export function recordOf(log) {
  if (log.picked) return log.picked;
  return log.matches.length === 1 ? log.matches[0] : null;
}

function openNewTask(log) {
  const record = recordOf(log);
  const defaults = {};
  if (record) defaults[WHO_OBJECTS.has(record.object) ? "WhoId" : "WhatId"] = record.id;
  state.host.pop({ kind: "new_record", object: "Task", defaults, about: record?.name || "" });
}

export function popRecord(object, id, name) {
  state.host.pop({ kind: "record", rule: "history", matches: [{ object, id, name }] });
}

function ringing(call) {
  state.view = "main";
  state.host.show();
  notifyIncoming(call);
  if (document.hasFocus()) queueMicrotask(() => $("answer").focus());
}

async function popIfOwed(call, waited = false) {
  if (!call || !call.pop || call.pop_delivered || call.state === "cleared") return;
  // An agent who pops at answer sees the caller's name while it rings, the record once answered.
  if (call.pop.when === "answer" && call.state !== "active") return;
  if (state.popped.has(call.call_id)) return;
  if (!waited && !usedLast(call)) {
    if (waiting.has(call.call_id)) return;
    waiting.add(call.call_id);
    // Tabs that all wait (the one used last is gone) do not all wake at once.
    setTimeout(() => {
      waiting.delete(call.call_id);
      popIfOwed(state.calls.get(call.call_id), true);
    }, POP_GRACE_MS + Math.random() * 1000);
    return;
  }
  state.popped.add(call.call_id);
  tabStorage.setJson(POPPED_KEY, [...state.popped].slice(-50));
  const ok = await state.host.pop(call.pop);
  if (ok) send({ type: "popped", call_id: call.call_id });
}
