// Desktop notifications for a call that rings while the page is hidden. Permission is asked at
// most once, and only on something the agent did (the first Answer click, or the settings box).
import { t } from "./i18n.js";
import { state } from "./state.js";
import { localStore } from "./storage.js";

const ASKED_KEY = "softphone.notify.asked";
const OFF_KEY = "softphone.notify.off";
const shown = new Map();

function stored(key) {
  return localStore.get(key);
}

function store(key, value) {
  if (value === null) localStore.remove(key);
  else localStore.set(key, value);
}

function supported() {
  return typeof window.Notification === "function";
}

export function notificationState() {
  if (!supported()) return { supported: false, on: false, blocked: false };
  const permission = Notification.permission;
  return {
    supported: true,
    on: permission === "granted" && stored(OFF_KEY) !== "1",
    blocked: permission === "denied",
  };
}

async function ask() {
  store(ASKED_KEY, "1");
  try {
    await Notification.requestPermission();
  } catch {
    // A browser that refuses to ask (a cross-origin frame) simply keeps them off.
  }
}

// The first Answer click: ask once, never again whatever the answer was.
export function askOnce() {
  if (!supported() || Notification.permission !== "default" || stored(ASKED_KEY)) return;
  ask();
}

export async function setNotifications(on) {
  store(OFF_KEY, on ? null : "1");
  if (on && supported() && Notification.permission === "default") await ask();
}

export function notifyIncoming(call) {
  if (!document.hidden || !notificationState().on) return;
  const body = call.caller_name || call.ani_display || t("withheld");
  try {
    const note = new Notification(t("notifyTitle"), { body, tag: `call-${call.call_id}` });
    note.onclick = () => {
      window.focus();
      state.host.show();
      note.close();
    };
    shown.set(call.call_id, note);
  } catch {
    // Some browsers only notify from a service worker; the ring and the panel still show.
  }
}

// A call that stops ringing takes its notification with it.
export function callMoved(call) {
  if (call.state === "ringing") return;
  shown.get(call.call_id)?.close();
  shown.delete(call.call_id);
}
