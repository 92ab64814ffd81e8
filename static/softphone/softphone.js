// The softphone page: sign-in, the agent's calls as the server reports them, and pops.
import { AgentSocket } from "./agent-socket.js";
import { connectHost } from "./cti-host.js";
import { loadStrings, t } from "./i18n.js";

const SESSION_KEY = "softphone.session";
const POPPED_KEY = "softphone.popped";
const $ = (id) => document.getElementById(id);

const DIALPAD_KEYS = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "0", "#"];
const state = {
  session: JSON.parse(sessionStorage.getItem(SESSION_KEY) || "null"),
  calls: new Map(),
  status: null,
  popped: new Set(JSON.parse(sessionStorage.getItem(POPPED_KEY) || "[]")),
  host: null,
  socket: null,
  timer: null,
};

function show(screen) {
  for (const el of document.querySelectorAll(".screen")) el.hidden = el.id !== `screen-${screen}`;
}

function notice(text) {
  $("notice").textContent = text || "";
  $("notice").hidden = !text;
}

function httpBase(host) {
  return `${location.protocol}//${host}`;
}

function wsUrl(host) {
  return `${location.protocol === "https:" ? "wss:" : "ws:"}//${host}/ws/agent`;
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
  state.status = null;
  $("state-control").hidden = true;
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
  const el = $("connection");
  el.dataset.state = status.state;
  el.textContent = status.state === "reconnecting"
    ? t("reconnecting", { seconds: status.seconds })
    : t(status.state);
}

// ---- calls -------------------------------------------------------------------------------
function receive(message) {
  if (message.type === "welcome") {
    state.calls = new Map(message.calls.map((c) => [c.call_id, c]));
    state.status = message.status;
    renderStatus();
    for (const call of message.calls) popIfOwed(call);
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
  } else if (message.type === "error") {
    notice(message.message);
    return;
  }
  render();
}

function ringing() {
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
  if (ok) state.socket.send({ type: "popped", call_id: call.call_id });
}

// The call the big screen is about: a ringing call first, then the one being spoken on
// (a consultation call before the call it consults from), then held ones, then a just-ended one.
function currentCall() {
  const calls = [...state.calls.values()];
  const live = (c) => ["active", "conference", "dialing"].includes(c.state);
  return calls.find((c) => c.state === "ringing")
    || calls.find((c) => live(c) && c.consult_of)
    || calls.find(live)
    || calls.find((c) => c.state === "held" || c.state === "consultation")
    || calls.find((c) => c.state === "cleared");
}

// The call on consultation hold while the agent consults from it, if any.
function consultingFrom() {
  return [...state.calls.values()].find((c) => c.state === "consultation");
}

function command(type, fields = {}) {
  const call = currentCall();
  if (!call) return;
  notice("");
  state.socket.send({ type, call_id: call.call_id, ...fields });
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
  state.socket.send({ type, call_id: original.call_id });
}

function dial(event) {
  event.preventDefault();
  const number = $("dial-number").value.trim();
  if (!number) return;
  notice("");
  state.socket.send({ type: "dial", number });
  $("dial-number").value = "";
}

function changeState() {
  const [value, reason] = $("agent-state").value.split(":");
  notice("");
  state.socket.send({ type: "set_state", state: value, reason: reason || "" });
}

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
    box.addEventListener("change", () => state.socket.send({
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

function render() {
  clearInterval(state.timer);
  if (!state.session) return;
  const call = currentCall();
  if (!call) {
    show("idle");
    return;
  }
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
  const matches = call.pop?.kind === "record" ? call.pop.matches : [];
  $("matches-block").hidden = matches.length === 0;
  $("matches").replaceChildren(...matches.map((m) => {
    const li = document.createElement("li");
    const kind = document.createElement("span");
    kind.className = "object";
    kind.textContent = m.object;
    li.append(kind, document.createTextNode(` ${m.name}`));
    return li;
  }));
  const s = call.state;
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
  $("cancel-work").addEventListener("click", () => state.socket.send({ type: "cancel_work" }));
  $("phone-logout").addEventListener("click", () => state.socket.send({ type: "logout" }));
  $("phone-login").addEventListener("click", () => state.socket.send({ type: "login" }));
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
