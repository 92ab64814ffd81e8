"""Salesforce Voice: the VoiceCall writes a call makes, as the Telephony Integration API takes them.

A Voice agent's call is one VoiceCall, keyed by the proxy's call id (`vendorCallKey`): created
when it first rings (or dials), updated once when it ends, its routing cleared when nobody
answered it. A call handed on by transfer to another Voice agent is a new VoiceCall whose
parent is the first one. Pure: the shell queues these bodies and sends them.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any, Literal

from softphone.calls import Call
from softphone.events import CallState, Direction

VoiceWrite = Literal["voice_create", "voice_end", "voice_clear"]
VOICE_WRITES: tuple[VoiceWrite, ...] = ("voice_create", "voice_end", "voice_clear")
# The API's own limit on callAttributes is not published; kept well under a text field's 32 KB.
MAX_ATTRIBUTES_CHARS = 4000
# Ends of a call that hand it on rather than finish it (the PBXs' words for it differ).
_HANDED_ON = frozenset({"transferred", "completed"})


def write_key(kind: VoiceWrite, call_id: str) -> str:
    """The outbox key of one write: each write of each call is queued at most once."""
    return f"{kind}:{call_id}"


def iso(timestamp: float) -> str:
    """An ISO 8601 UTC time with milliseconds, as the API's examples give them."""
    moment = dt.datetime.fromtimestamp(timestamp, dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def initiation(call: Call, parent_key: str) -> str:
    if parent_key:
        return "Transfer"
    return "Outbound" if call.placed else "Inbound"


def caller(call: Call) -> str:
    """The customer's number: who called in, or whom the agent dialled."""
    if call.placed:
        return call.dnis or (call.parties[0].number if call.parties else "")
    return call.ani or (call.parties[0].number if call.parties else "")


def call_attributes(call: Call) -> str:
    """What the PBX and our matching knew at the ring, for a flow or a page layout to use.

    IVR data as the PBX sent it (`tab.field=value` pairs and collected digits), the queue, and
    the records our caller matching found (ids by object), JSON-encoded as the API takes it.
    """
    attributes: dict[str, Any] = {}
    if call.ivr:
        attributes["ivr"] = list(call.ivr)
    if call.digits:
        attributes["digits"] = call.digits
    if call.queue:
        attributes["queue"] = call.queue
    if call.pop is not None and call.pop.matches:
        attributes["matches"] = [{"object": m.object, "id": m.id} for m in call.pop.matches]
    text = json.dumps(attributes, separators=(",", ":"))
    return text if len(text) <= MAX_ATTRIBUTES_CHARS else json.dumps({"truncated": True})


def create_body(
    call: Call, *, call_center: str, agent_number: str, parent_key: str = "", customer: str = ""
) -> dict[str, Any]:
    """The POST /voiceCalls body for a call that starts ringing (or dialling) now; `customer`
    when the call carries another's caller on (a transfer), else the call's own."""
    customer = customer or caller(call) or "anonymous"
    if call.placed:
        from_, to = agent_number, customer
    else:
        from_, to = customer, call.dnis or agent_number
    body: dict[str, Any] = {
        "callCenterApiName": call_center,
        "vendorCallKey": call.call_id,
        "to": to,
        "from": from_,
        "initiationMethod": initiation(call, parent_key),
        "startTime": iso(call.started_at),
        "participants": [{"participantKey": customer, "type": "END_USER"}],
    }
    attributes = call_attributes(call)
    if attributes != "{}":
        body["callAttributes"] = attributes
    if parent_key:
        body["parentVoiceCallId"] = parent_key
    return body


@dataclass(frozen=True)
class Holds:
    """How long and how often the customer waited on hold during one call."""

    count: int = 0
    total: float = 0.0
    longest: float = 0.0
    since: float | None = None

    def follow(self, state: CallState, now: float) -> Holds:
        waiting = state in (CallState.HELD, CallState.CONSULTATION)
        if waiting and self.since is None:
            return Holds(self.count + 1, self.total, self.longest, now)
        if not waiting and self.since is not None:
            spell = max(0.0, now - self.since)
            return Holds(self.count, self.total + spell, max(self.longest, spell), None)
        return self


def end_body(
    *,
    started_at: float,
    ended_at: float,
    answered_at: float | None,
    queue: str = "",
    holds: Holds = Holds(),
) -> dict[str, Any]:
    """The PATCH /voiceCalls/{vendorCallKey} body, sent once when the call has ended."""
    holds = holds.follow(CallState.CLEARED, ended_at)
    body: dict[str, Any] = {
        "startTime": iso(started_at),
        "endTime": iso(ended_at),
        "totalHoldDuration": round(holds.total),
        "longestHoldDuration": round(holds.longest),
        "numberOfHolds": holds.count,
    }
    if answered_at is not None:
        body["acceptTime"] = iso(answered_at)
        body["agentInteractionDuration"] = round(max(0.0, ended_at - answered_at))
    if queue:
        body["queue"] = queue
    return body


def voice_call(call: Call) -> bool:
    """Whether the call is a VoiceCall of its own: a customer's call, not a consultation
    (Voice shows that as a participant of the call it consults for) nor an internal one."""
    return not call.consult_of and call.direction != Direction.INTERNAL


def missed(call: Call) -> bool:
    """A call that rang and was never answered (nor placed by the agent): its routing is
    cleared, and the connector reports it missed."""
    return call.answered_at is None and not call.placed


def handed_on(call: Call) -> bool:
    """The call ended at this agent because it went on elsewhere (a transfer)."""
    return call.answered_at is not None and call.reason in _HANDED_ON
