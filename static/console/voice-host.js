// The demo console's Salesforce Voice mode: plays the Voice host as Salesforce does. It frames
// the connector page cross-site, hands it a MessagePort with SETUP_CONNECTOR, shows what the
// connector publishes as a VoiceCall work item, and sends accept, hold, resume and end.
// Salesforce's library talks only to a host on an https Salesforce domain (its own check): the
// console says so when it is served anywhere else.
const $ = (id) => document.getElementById(id);
const frame = $("connector");
let port = null;
let call = null; // the PhoneCall of the work item, as the connector published it
let connectorOrigin = "";

async function findConnector() {
  const asked = new URLSearchParams(location.search).get("connector");
  if (asked) return new URL(asked).origin;
  try {
    const config = await (await fetch("/demo/api/config")).json();
    if (config.softphone_origin) return new URL(config.softphone_origin).origin;
  } catch {
    // No config: the connector is on this origin.
  }
  return location.origin;
}

function logEvent(type, payload) {
  const li = document.createElement("li");
  const first = Array.isArray(payload) ? payload[0] : payload;
  const parts = [type];
  if (first?.callId) parts.push(`call=${first.callId}`);
  if (first?.callAttributes?.voiceCallId) parts.push(`voiceCall=${first.callAttributes.voiceCallId}`);
  if (first?.callInfo) parts.push(`isSoftphoneCall=${first.callInfo.isSoftphoneCall}`);
  if (first?.reason) parts.push(`reason=${first.reason}`);
  if (payload?.isCustomerOnHold !== undefined) parts.push(`onHold=${payload.isCustomerOnHold}`);
  if (payload?.agentConfig?.SELECTED_PHONE) {
    const phone = payload.agentConfig.SELECTED_PHONE;
    parts.push(`phone=${phone.type} ${phone.number || ""}`.trim());
  }
  li.textContent = parts.join(" ");
  $("events").append(li);
}

function show(ids) {
  for (const id of ["accept", "decline", "hold", "resume", "end"]) $(id).hidden = !ids.includes(id);
  $("transfer-row").hidden = !ids.includes("hold");
}

function workItem(text, buttons) {
  $("work-item").textContent = text;
  show(buttons);
}

function telephonyEvent(type, payload) {
  const first = Array.isArray(payload) ? payload[0] : payload;
  if (type === "CALL_STARTED") {
    call = first;
    if (/^outbound$/i.test(first.callType)) workItem(`VoiceCall to ${first.phoneNumber || "unknown"}: dialling`, ["end"]);
    else workItem(`VoiceCall from ${first.phoneNumber || "unknown"}: ringing`, ["accept", "decline"]);
  } else if (type === "CALL_CONNECTED") {
    call = first;
    workItem(`VoiceCall with ${first.phoneNumber || "unknown"}: connected`, ["hold", "end"]);
  } else if (type === "HOLD_TOGGLE") {
    workItem(`VoiceCall: ${payload.isCustomerOnHold ? "on hold" : "connected"}`,
      payload.isCustomerOnHold ? ["resume", "end"] : ["hold", "end"]);
  } else if (type === "HANGUP") {
    workItem(`VoiceCall ended${first?.reason === "error" ? " (missed)" : ""}`, []);
    call = null;
  } else if (type === "SHOW_LOGIN") {
    frame.classList.add("login");
  } else if (type === "LOGIN_RESULT") {
    frame.classList.remove("login");
  }
}

function received(event) {
  const { type, payload } = event.data || {};
  if (type === "CONNECTOR_READY") {
    logEvent(type, payload);
    // The agent is available in Omni-Channel: Salesforce then asks for calls to replay.
    send({ type: "AGENT_AVAILABLE", isAvailable: true });
  } else if (type === "TELEPHONY_EVENT_DISPATCHED") {
    logEvent(payload.telephonyEventType, payload.telephonyEventPayload);
    telephonyEvent(payload.telephonyEventType, payload.telephonyEventPayload);
  }
}

function send(message) {
  port?.postMessage(message);
}

function setUp() {
  const channel = new MessageChannel();
  port = channel.port1;
  port.onmessage = received;
  // Salesforce passes the signed-in user (userId) among the contact center's settings; the
  // console plays the demo org's first user unless ?user= names another.
  const userId = new URLSearchParams(location.search).get("user") || "005Dm0000000001AAA";
  const connectorConfig = { "/reqGeneralInfo/reqVendorInfoApiName": "SoftphoneProxy", userId };
  frame.contentWindow.postMessage({ type: "SETUP_CONNECTOR", connectorConfig }, connectorOrigin, [channel.port2]);
}

async function ring(event) {
  event.preventDefault();
  await fetch("/sim/calls", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ agent: $("ring-agent").value, ani: $("ring-ani").value }),
  });
}

async function start() {
  if (location.protocol !== "https:" || !/\.(force|salesforce)\.com$/.test(location.hostname)) {
    $("origin-warning").hidden = false;
    $("origin-warning").textContent = "Salesforce's connector library only answers a host on an "
      + "https Salesforce domain: open this console at one (see docs/salesforce-voice.md, Demo).";
  }
  connectorOrigin = await findConnector();
  frame.addEventListener("load", setUp);
  frame.src = `${connectorOrigin}/voice/connector.html`;
  $("accept").onclick = () => send({ type: "ACCEPT_CALL", call });
  $("decline").onclick = () => send({ type: "DECLINE_CALL", call });
  $("hold").onclick = () => send({ type: "HOLD", call });
  $("resume").onclick = () => send({ type: "RESUME", call });
  $("end").onclick = () => send({ type: "END_CALL", call });
  const addParticipant = (isBlindTransfer) => send({
    type: "ADD_PARTICIPANT",
    contact: { phoneNumber: $("transfer-to").value.trim() },
    call,
    isBlindTransfer,
  });
  $("consult").onclick = () => addParticipant(false);
  $("transfer").onclick = () => addParticipant(true);
  $("reload").onclick = () => { frame.src = `${connectorOrigin}/voice/connector.html`; };
  $("ring").addEventListener("submit", ring);
  $("dial").addEventListener("submit", (event) => {
    event.preventDefault();
    send({ type: "DIAL", contact: { phoneNumber: $("dial-number").value.trim() } });
  });
  try {
    const agents = await (await fetch("/sim/agents")).json();
    $("ring-agent").replaceChildren(...agents.map((a) => new Option(a, a)));
  } catch {
    $("ring-agent").replaceChildren(new Option("1001", "1001"));
  }
}

start();
