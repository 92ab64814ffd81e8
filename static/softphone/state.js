// The page's one state object, its constants, and the few helpers every module needs:
// sending to the server, the notice and toast lines, and which screen shows.
import { tabStorage } from "./storage.js";

export const SESSION_KEY = "softphone.session";
export const POPPED_KEY = "softphone.popped";
export const LIVE_LOGS = new Set(["open", "wrapping"]);
export const MAX_NOTES = 4000;

export const $ = (id) => document.getElementById(id);

export const state = {
  session: tabStorage.getJson(SESSION_KEY, null),
  calls: new Map(),
  // This page's id from the server: a call's pop_owner names the page that pops at once.
  page: "",
  status: null,
  popped: new Set(tabStorage.getJson(POPPED_KEY, [])),
  host: null,
  socket: null,
  timer: null,
  // The server's clock minus the browser's (seconds): countdowns and durations use the server's.
  clockOffset: 0,
  // Call logs the agent can still change (open from the first ring, wrapping after the call).
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
  // What getCallCenterSettings said about this call center (vendor, server origin).
  callCenter: {},
};

// Seconds since the epoch by the server's clock, as well as the browser can tell it.
export function serverNow() {
  return Date.now() / 1000 + state.clockOffset;
}

export function show(screen) {
  for (const node of document.querySelectorAll(".screen")) node.hidden = node.id !== `screen-${screen}`;
}

export function notice(text) {
  $("notice").textContent = text || "";
  $("notice").hidden = !text;
}

export function toast(text) {
  clearTimeout(state.toastTimer);
  $("toast").textContent = text;
  state.toastTimer = setTimeout(() => { $("toast").textContent = ""; }, 5000);
}

export function settings() {
  return state.data?.settings || {};
}

export function debug(...args) {
  if (settings().debug_logs) console.debug("[softphone]", ...args);
}

export function send(message) {
  debug("out", message);
  return state.socket ? state.socket.send(message) : false;
}

export function httpBase(host) {
  return `${location.protocol}//${host}`;
}

export function wsUrl(host) {
  return `${location.protocol === "https:" ? "wss:" : "ws:"}//${host}/ws/agent`;
}

// A number as people read it ("+1 650-450-8810"), when the server has formatted it.
export function displayNumber(number) {
  return state.data?.displays?.[number] || number;
}
