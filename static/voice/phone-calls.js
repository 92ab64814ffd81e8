// Our calls as Salesforce Voice's library takes them: its own classes (it checks them with
// instanceof), built from the call views the proxy sends. A desk phone's call is never a
// softphone call: `isSoftphoneCall: false` on every one.
const SCV = window.SCVConnectorBase;
const C = SCV.Constants;

// The customer's number: who called in, or whom the agent dialled.
export function customerNumber(view) {
  if (view.placed) return view.dnis || view.parties[0]?.number || "";
  return view.ani || view.parties[0]?.number || "";
}

function scvState(view) {
  if (view.state === "cleared") return C.CALL_STATE.ENDED;
  if (view.consult_of) {
    return view.state === "dialing" || view.state === "ringing"
      ? C.CALL_STATE.TRANSFERRING
      : C.CALL_STATE.TRANSFERRED;
  }
  return view.state === "ringing" || view.state === "dialing"
    ? C.CALL_STATE.RINGING
    : C.CALL_STATE.CONNECTED;
}

function callType(view) {
  if (view.consult_of) return C.CALL_TYPE.ADD_PARTICIPANT;
  if (view.direction === "internal") return C.CALL_TYPE.INTERNAL_CALL;
  return view.placed ? C.CALL_TYPE.OUTBOUND : C.CALL_TYPE.INBOUND;
}

// A call that rang at the agent and was never answered: Salesforce closes its work item as
// missed (or declined) rather than as a finished conversation.
export function missed(view) {
  return view.state === "cleared" && view.answered_at == null && !view.placed;
}

export function phoneCall(view, capabilities = {}, voiceCallId = "") {
  const number = customerNumber(view);
  const held = view.state === "held" || view.state === "consultation";
  const attributes = {
    participantType: view.consult_of ? C.PARTICIPANT_TYPE.THIRD_PARTY : C.PARTICIPANT_TYPE.INITIAL_CALLER,
    isOnHold: held,
  };
  if (voiceCallId) attributes.voiceCallId = voiceCallId;
  if (view.consult_of) attributes.parentId = view.consult_of;
  const info = new SCV.CallInfo({
    isSoftphoneCall: false,
    isOnHold: held,
    callStateTimestamp: new Date((view.state_since || view.started_at) * 1000),
    queueName: view.queue || null,
    initialCallId: view.consult_of || view.call_id,
    isReplayable: view.state !== "cleared",
    acceptEnabled: capabilities.answer !== false,
    holdEnabled: capabilities.hold !== false,
    conferenceEnabled: capabilities.conference !== false,
    addCallerEnabled: capabilities.consult !== false,
    showAddBlindTransferButton: capabilities.transfer !== false,
    // A desk phone mutes and records on the handset, not from here.
    muteEnabled: false,
    recordEnabled: false,
    showMuteButton: false,
    showRecordButton: false,
    swapEnabled: false,
    showSwapButton: false,
  });
  const ended = view.state === "cleared";
  return new SCV.PhoneCall({
    callId: view.call_id,
    callType: callType(view),
    contact: new SCV.Contact({ phoneNumber: number || undefined }),
    state: scvState(view),
    callAttributes: new SCV.PhoneCallAttributes(attributes),
    phoneNumber: number || undefined,
    callInfo: info,
    // Missed and declined calls end in error, without closing the work item by themselves.
    reason: ended ? (missed(view) ? C.HANGUP_REASON.PHONE_CALL_ERROR : C.HANGUP_REASON.PHONE_CALL_ENDED) : undefined,
    closeCallOnError: ended && missed(view) ? false : undefined,
  });
}

export function holdResult(views, capabilities) {
  const main = views.find((v) => !v.consult_of);
  const consult = views.find((v) => v.consult_of);
  const calls = {};
  for (const view of views) calls[view.call_id] = phoneCall(view, capabilities);
  return new SCV.HoldToggleResult({
    isThirdPartyOnHold: consult ? consult.state === "held" : false,
    isCustomerOnHold: main ? main.state === "held" || main.state === "consultation" : false,
    calls,
  });
}

export function participantResult(view, capabilities, initialCallHasEnded = false) {
  return new SCV.ParticipantResult({
    initialCallHasEnded,
    callInfo: phoneCall(view, capabilities).callInfo,
    phoneNumber: customerNumber(view),
    callId: view.call_id,
  });
}

export function capabilitiesResult(capabilities) {
  return new SCV.CapabilitiesResult({
    hasMute: false,
    hasRecord: false,
    hasMerge: capabilities.conference !== false,
    hasSwap: false,
    hasSignedRecordingUrl: false,
    debugEnabled: false,
    hasContactSearch: false,
    hasAgentAvailability: false,
    hasBlindTransfer: capabilities.transfer !== false,
    hasPhoneBook: false,
  });
}

export function agentConfigResult(extension) {
  const desk = new SCV.Phone({ type: C.PHONE_TYPE.DESK_PHONE, number: extension });
  return new SCV.AgentConfigResult({ phones: [C.PHONE_TYPE.DESK_PHONE], selectedPhone: desk });
}
