// The Salesforce Voice connector in desk-phone mode: Salesforce frames this page, drives it
// through @salesforce/scv-connector-base, and we drive the agent's desk phone through the proxy.
//
// Calls happen on the handset as much as here, so every change the proxy reports is published
// to Salesforce by us (CALL_STARTED, CALL_CONNECTED, HOLD_TOGGLE, PARTICIPANT_*, HANGUP), except
// the one that answers a request the library made (accept, hold, end...): the library
// publishes that one itself from what our method returns, so it is never published twice.
import { AgentSocket } from "../softphone/agent-socket.js";
import { t } from "../softphone/i18n.js";
import {
  agentConfigResult,
  capabilitiesResult,
  holdResult,
  participantResult,
  phoneCall,
} from "./phone-calls.js";
import {
  currentAgent,
  forgetToken,
  savedToken,
  showSignIn,
  showSignedIn,
  signOut,
  translated,
} from "./signin.js";

const SCV = window.SCVConnectorBase;
const C = SCV.Constants;
const ANSWER_WITHIN_MS = 10000;
const VOICECALL_POLL_MS = 150;
const VOICECALL_WAIT_MS = 8000;
const LOGIN_HEIGHT = 380;
const RINGING = new Set(["ringing", "dialing"]);
const TALKING = new Set(["active", "conference"]);

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

class DeskPhoneConnector extends SCV.VendorConnector {
  constructor() {
    super();
    this.session = null; // { agent, token }
    this.socket = null;
    this.views = new Map(); // call id -> the proxy's latest view of it
    this.status = null;
    this.waiters = [];
    this.published = Promise.resolve(); // our own events, in order
    this.seeded = false; // the first welcome seeds the calls; later ones are changes
  }

  // --- setup and sign-in --------------------------------------------------------------
  async init(config) {
    this.config = config || {};
    // Errors handed to Salesforce are in the agent's language too.
    await translated;
    const token = savedToken();
    const agent = await currentAgent(token);
    if (agent) {
      await this.start({ agent, token });
      showSignedIn(agent);
      return new SCV.InitResult({ showLogin: false });
    }
    forgetToken();
    this.askToSignIn();
    return new SCV.InitResult({ showLogin: true, loginFrameHeight: LOGIN_HEIGHT });
  }

  // The sign-in form; once signed in, the library hears LOGIN_RESULT and sets itself up.
  askToSignIn() {
    // Salesforce passes the user it frames us for; "Sign in with Salesforce" must be them.
    showSignIn(async (session) => {
      await this.start(session);
      SCV.publishEvent({ eventType: C.EVENT_TYPE.LOGIN_RESULT, payload: new SCV.GenericResult({ success: true }) });
    }, this.config?.userId || "");
  }

  start(session) {
    this.session = session;
    let welcomed;
    const ready = new Promise((resolve) => { welcomed = resolve; });
    this.socket = new AgentSocket({
      url: `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}/ws/agent`,
      token: session.token,
      extraProtocols: ["voice.connector"],
      onMessage: (message) => this.receive(message, welcomed),
      onStatus: () => {},
      onUnauthorized: () => this.signedOut(),
    });
    this.socket.open();
    return ready;
  }

  signedOut() {
    this.socket?.close();
    this.socket = null;
    this.session = null;
    this.views.clear();
    this.seeded = false;
    SCV.publishEvent({
      eventType: C.EVENT_TYPE.LOGOUT_RESULT,
      payload: new SCV.LogoutResult({ success: true, loginFrameHeight: LOGIN_HEIGHT }),
    });
    this.askToSignIn();
  }

  get capabilities() {
    return this.status?.capabilities || {};
  }

  // --- what the proxy says --------------------------------------------------------------
  receive(message, welcomed) {
    if (message.type === "welcome") {
      this.status = message.status;
      this.session.agent = message.agent;
      const first = !this.seeded;
      this.seeded = true;
      const now = new Map(message.calls.map((view) => [view.call_id, view]));
      if (!first) {
        // Back after a lost connection: what changed meanwhile is published as it happened.
        for (const [id, view] of this.views) {
          if (!now.has(id)) this.changed({ ...view, state: "cleared" });
        }
        for (const view of now.values()) this.changed(view);
      } else {
        // Calls in progress at setup are Salesforce's to replay (getActiveCalls).
        this.views = now;
      }
      welcomed();
    } else if (message.type === "call") {
      this.changed(message.call);
    } else if (message.type === "agent") {
      this.status = message.status;
    } else if (message.type === "error") {
      this.refused(message);
    }
  }

  changed(view) {
    const before = this.views.get(view.call_id);
    if (before && before.state === view.state && before.parties?.length === view.parties?.length) return;
    if (view.state === "cleared") this.views.delete(view.call_id);
    else this.views.set(view.call_id, view);
    if (this.settle(view, before)) return;
    this.published = this.published.then(() => this.publish(before, view)).catch((e) => {
      SCV.log({ message: `event not published: ${e}` }, C.LOG_LEVEL.ERROR);
    });
  }

  async publish(before, view) {
    const caps = this.capabilities;
    if (view.consult_of) return this.publishParticipant(before, view);
    if (!before) {
      if (view.state === "cleared") return;
      const voiceCallId = await this.voiceCallOf(view.call_id);
      const started = this.views.get(view.call_id) || view;
      await SCV.publishEvent({
        eventType: C.EVENT_TYPE.CALL_STARTED,
        payload: new SCV.CallResult({ call: phoneCall(started, caps, voiceCallId) }),
      });
      if (!TALKING.has(view.state)) return;
      before = { ...view, state: "ringing" };
    }
    if (view.state === "cleared") {
      return SCV.publishEvent({ eventType: C.EVENT_TYPE.HANGUP, payload: new SCV.HangupResult({ calls: [phoneCall(view, caps)] }) });
    }
    if (RINGING.has(before.state) && TALKING.has(view.state)) {
      return SCV.publishEvent({ eventType: C.EVENT_TYPE.CALL_CONNECTED, payload: new SCV.CallResult({ call: phoneCall(view, caps) }) });
    }
    if (view.state === "conference" && before.state !== "conference") {
      return SCV.publishEvent({
        eventType: C.EVENT_TYPE.PARTICIPANTS_CONFERENCED,
        payload: new SCV.HoldToggleResult({ isThirdPartyOnHold: false, isCustomerOnHold: false }),
      });
    }
    // On hold either way: by the agent, or while they consult someone.
    const held = (v) => v.state === "held" || v.state === "consultation";
    const holdChanged = held(before) !== held(view);
    if (holdChanged) {
      return SCV.publishEvent({ eventType: C.EVENT_TYPE.HOLD_TOGGLE, payload: holdResult([...this.views.values()], caps) });
    }
  }

  publishParticipant(before, view) {
    const caps = this.capabilities;
    if (view.state === "cleared") {
      return SCV.publishEvent({ eventType: C.EVENT_TYPE.PARTICIPANT_REMOVED, payload: new SCV.CallResult({ call: phoneCall(view, caps) }) });
    }
    if (!before) {
      return SCV.publishEvent({ eventType: C.EVENT_TYPE.PARTICIPANT_ADDED, payload: participantResult(view, caps) });
    }
    if (RINGING.has(before.state) && TALKING.has(view.state)) {
      return SCV.publishEvent({ eventType: C.EVENT_TYPE.PARTICIPANT_CONNECTED, payload: participantResult(view, caps) });
    }
  }

  // Salesforce finds the call by its VoiceCall, which our server creates as the phone rings:
  // CALL_STARTED waits until it exists (or until waiting longer would lose the ring).
  async voiceCallOf(callId) {
    const headers = this.session?.token ? { authorization: `Bearer ${this.session.token}` } : {};
    const deadline = Date.now() + VOICECALL_WAIT_MS;
    while (Date.now() < deadline) {
      try {
        const response = await fetch(`/api/v1/voice/calls/${encodeURIComponent(callId)}`, { headers });
        const found = response.ok ? await response.json() : { state: "none" };
        if (found.state === "written") return found.voice_call_id;
        if (found.state === "none" || found.state === "dead") return "";
      } catch {
        return "";
      }
      await sleep(VOICECALL_POLL_MS);
    }
    return "";
  }

  // --- requests the library makes ------------------------------------------------------
  // Sends a command and resolves with the call view that shows it done (`match`), or rejects
  // with the proxy's refusal; the library publishes the event for it.
  command(message, callId, match) {
    return new Promise((resolve, reject) => {
      const waiter = { callId, match, resolve, reject };
      waiter.timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(t("voiceErrorNoAnswer")));
      }, ANSWER_WITHIN_MS);
      this.waiters.push(waiter);
      if (!this.socket?.send(message)) {
        clearTimeout(waiter.timer);
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(t("errorOffline")));
      }
    });
  }

  settle(view, before) {
    const waiter = this.waiters.find((w) => w.match(view, before));
    if (!waiter) return false;
    clearTimeout(waiter.timer);
    this.waiters = this.waiters.filter((w) => w !== waiter);
    waiter.resolve(view);
    return true;
  }

  refused(message) {
    const waiter = this.waiters.find((w) => (w.callId || null) === (message.call_id || null));
    if (!waiter) return;
    clearTimeout(waiter.timer);
    this.waiters = this.waiters.filter((w) => w !== waiter);
    waiter.reject(new Error(message.message));
  }

  mainCall(call) {
    const id = call?.callId;
    if (id && this.views.has(id)) return this.views.get(id);
    return [...this.views.values()].find((v) => !v.consult_of);
  }

  consultOf(mainId) {
    return [...this.views.values()].find((v) => v.consult_of === mainId);
  }

  async acceptCall(call) {
    const target = this.mainCall(call);
    const id = target?.call_id;
    const view = await this.command({ type: "answer", call_id: id }, id, (v) => v.call_id === id && TALKING.has(v.state));
    return new SCV.CallResult({ call: phoneCall(view, this.capabilities) });
  }

  async declineCall(call) {
    const id = this.mainCall(call)?.call_id;
    const view = await this.command({ type: "hangup", call_id: id }, id, (v) => v.call_id === id && v.state === "cleared");
    return new SCV.CallResult({ call: phoneCall(view, this.capabilities) });
  }

  async endCall(call) {
    const id = call?.callId && this.views.has(call.callId) ? call.callId : this.mainCall(call)?.call_id;
    const target = this.views.get(id);
    // Leaving a consultation hands the caller over: the PBX completes the transfer.
    const consult = target && !target.consult_of ? this.consultOf(id) : null;
    const type = target?.state === "consultation" && consult ? "complete_transfer" : "hangup";
    const view = await this.command({ type, call_id: id }, id, (v) => v.call_id === id && v.state === "cleared");
    return new SCV.HangupResult({ calls: [phoneCall(view, this.capabilities)] });
  }

  async hold(call) {
    const id = this.mainCall(call)?.call_id;
    await this.command({ type: "hold", call_id: id }, id, (v) => v.call_id === id && v.state === "held");
    return holdResult([...this.views.values()], this.capabilities);
  }

  async resume(call) {
    const id = this.mainCall(call)?.call_id;
    await this.command({ type: "retrieve", call_id: id }, id, (v) => v.call_id === id && TALKING.has(v.state));
    return holdResult([...this.views.values()], this.capabilities);
  }

  // The library publishes CALL_STARTED from what this returns: like a ring, it waits for the
  // VoiceCall, and our own events for the call (CALL_CONNECTED...) wait until it is out.
  async dial(contact) {
    const number = contact?.phoneNumber || contact?.extension || "";
    const view = await this.command({ type: "dial", number }, null, (v, before) => !before && v.placed && !v.consult_of);
    const voiceCallId = this.voiceCallOf(view.call_id);
    this.published = this.published.then(() => voiceCallId).then(() => sleep(0));
    return new SCV.CallResult({ call: phoneCall(this.views.get(view.call_id) || view, this.capabilities, await voiceCallId) });
  }

  async sendDigits(digits) {
    const id = this.mainCall(null)?.call_id;
    if (id) this.socket?.send({ type: "dtmf", call_id: id, digits });
  }

  async addParticipant(contact, call, isBlindTransfer) {
    const main = this.mainCall(call);
    const id = main?.call_id;
    const number = contact?.phoneNumber || contact?.extension || "";
    if (isBlindTransfer) {
      const gone = await this.command({ type: "transfer", call_id: id, number }, id, (v) => v.call_id === id && v.state === "cleared");
      return new SCV.ParticipantResult({ initialCallHasEnded: true, callInfo: phoneCall(gone, this.capabilities).callInfo, phoneNumber: number, callId: id });
    }
    const consult = await this.command({ type: "consult", call_id: id, number }, id, (v, before) => !before && v.consult_of === id);
    return participantResult(consult, this.capabilities);
  }

  async conference() {
    const id = this.mainCall(null)?.call_id;
    await this.command({ type: "conference", call_id: id }, id, (v) => v.call_id === id && v.state === "conference");
    return new SCV.HoldToggleResult({ isThirdPartyOnHold: false, isCustomerOnHold: false });
  }

  async setAgentStatus(agentStatus, statusInfo) {
    const name = `${agentStatus || ""} ${statusInfo?.statusApiName || ""}`;
    const ready = agentStatus === C.AGENT_STATUS.ONLINE || /available|online|ready/i.test(name);
    if (!this.socket?.send({ type: "set_state", state: ready ? "ready" : "busy" })) {
      throw new Error(t("errorOffline"));
    }
    return new SCV.GenericResult({ success: true });
  }

  async wrapUpCall() {
    // The PBX's work timer, if any, ends with Salesforce's wrap-up.
    if (this.status?.state === "work") this.socket?.send({ type: "cancel_work" });
  }

  async getActiveCalls() {
    const views = [...this.views.values()];
    return new SCV.ActiveCallsResult({ activeCalls: views.map((v) => phoneCall(v, this.capabilities)) });
  }

  async getAgentConfig() {
    return agentConfigResult(this.session?.agent?.extension || "");
  }

  async setAgentConfig(config) {
    if (config?.selectedPhone?.type !== C.PHONE_TYPE.DESK_PHONE) {
      throw new Error(t("voiceErrorDeskPhoneOnly"));
    }
    return new SCV.GenericResult({ success: true });
  }

  async getCapabilities() {
    return capabilitiesResult(this.capabilities);
  }

  async logout() {
    const token = this.session?.token || "";
    this.socket?.close();
    this.socket = null;
    this.session = null;
    this.views.clear();
    this.seeded = false;
    await signOut(token);
    this.askToSignIn();
    return new SCV.LogoutResult({ success: true, loginFrameHeight: LOGIN_HEIGHT });
  }

  async mute() {
    throw new Error(t("voiceErrorMuteOnPhone"));
  }

  async unmute() {
    throw new Error(t("voiceErrorMuteOnPhone"));
  }

  async getPhoneContacts() {
    return new SCV.PhoneContactsResult({ contacts: [] });
  }

  handleMessage() {}

  downloadLogs() {}

  logMessageToVendor() {}
}

SCV.initializeConnector(new DeskPhoneConnector());
