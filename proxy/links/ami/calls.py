"""Asterisk's channel events, told as the proxy's call events: no I/O, one `AmiCalls` per link.

The legs, their call ids and which channel is whose are in `ami.legs`; this module is the
event handlers on top.

Asterisk reports every step of every channel; an agent leg moves only forward (ringing, answered,
held...), so a repeated or late report of the same step produces nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import ValidationError

from proxy.links.ami.channels import IGNORED_EVENTS, member_agent, number
from proxy.links.ami.legs import RING, RINGING, UP, AmiLegs, call_event, remember
from proxy.links.ami.protocol import AmiProtocolError, call_id_of
from softphone.agents import AgentFlags, agent_event
from softphone.errors import InvalidIvrTag
from softphone.events import Direction, LinkEvent
from softphone.ivr import parse_ivr

_FAILURES = {
    "BUSY": "busy",
    "NOANSWER": "no_answer",
    "CONGESTION": "invalid_number",
    "CHANUNAVAIL": "invalid_number",
}


class AmiUnknownEvent(AmiProtocolError):
    """An event name this link does not know (a newer Asterisk, or a typo in a test)."""


class AmiCalls(AmiLegs):
    """The agent legs Asterisk has told us about, and the events they produce."""

    def apply(self, message: dict[str, str]) -> list[LinkEvent]:
        """The proxy's events for one Asterisk event; `AmiProtocolError` when it is unusable."""
        name = message.get("Event", "")
        handler = _HANDLERS.get(name)
        if handler is None:
            if name in IGNORED_EVENTS:
                return []
            raise AmiUnknownEvent(f"unknown AMI event {name[:40]!r}", call_id_of(message))
        try:
            return handler(self, message)
        except ValidationError as exc:
            first = exc.errors()[0]
            raise AmiProtocolError(
                f"{name} does not fit a call event: {first['msg']} at {first['loc']}",
                call_id_of(message),
            ) from None

    def _newchannel(self, message: dict[str, str]) -> list[LinkEvent]:
        leg = self._leg(message)
        if leg is None:
            return []
        if leg.placed:
            return self._step(leg, "originated", after=("",))
        if message.get("ChannelState") == RING:  # the phone itself is dialling out
            leg.direction = Direction.OUTBOUND
            leg.dnis = number(message.get("Exten", ""))
            return self._step(leg, "originated", after=("",))
        leg.ani = number(message.get("ConnectedLineNum", ""))
        return []

    def _newstate(self, message: dict[str, str]) -> list[LinkEvent]:
        leg = self._leg(message)
        if leg is None or leg.placed:  # our Originate ringing the agent's own phone first
            return []
        state = message.get("ChannelState", "")
        if state == RINGING and leg.direction != Direction.OUTBOUND:
            leg.ani = leg.ani or number(message.get("ConnectedLineNum", ""))
            return self._step(leg, "delivered", after=("",))
        if state == UP:
            return self._step(leg, "established", after=("", "delivered", "originated"))
        return []

    def _dial_begin(self, message: dict[str, str]) -> list[LinkEvent]:
        events: list[LinkEvent] = []
        caller = self._leg(message)
        callee = self._leg(message, "Dest")
        if callee is not None and not callee.placed:
            callee.peer = message.get("Channel", "")
            callee.ani = number(message.get("CallerIDNum", "")) or callee.ani
            callee.direction = Direction.INTERNAL if caller is not None else Direction.INBOUND
            events += self._step(callee, "delivered", after=("",))
        if caller is not None:
            caller.peer = message.get("DestChannel", "")
            caller.dnis = caller.dnis or number(message.get("DestCallerIDNum", ""))
            if callee is not None:
                caller.direction = Direction.INTERNAL
            events += self._step(caller, "delivered", after=("originated",))
        return events

    def _dial_end(self, message: dict[str, str]) -> list[LinkEvent]:
        caller = self._leg(message)
        if caller is None:
            return []
        status = message.get("DialStatus", "")
        if status == "ANSWER":
            return self._step(caller, "established", after=("originated", "delivered"))
        if status in _FAILURES:
            return self._step(
                caller, "failed", after=("originated", "delivered"), reason=_FAILURES[status]
            )
        return []

    def _bridge_enter(self, message: dict[str, str]) -> list[LinkEvent]:
        leg = self._leg(message)
        if leg is None:
            return []
        if leg.consult and leg.step == "held":  # back in a bridge: the consultation answered
            event = call_event(
                "established",
                leg.consult,
                leg.agent,
                direction=Direction.OUTBOUND,
                consult_of=leg.uid,
            )
            return [event]
        return self._step(leg, "established", after=("", "delivered", "originated"))

    def _hangup(self, message: dict[str, str]) -> list[LinkEvent]:
        uid = message.get("Uniqueid", "")
        if uid and uid == message.get("Linkedid"):  # the call's first channel: its data goes
            self._ivr.pop(uid, None)
            self._queues.pop(uid, None)
        leg = self._leg(message)
        if leg is None:
            return []
        events: list[LinkEvent] = []
        if leg.consult:
            events.append(call_event("cleared", leg.consult, leg.agent, consult_of=leg.uid))
        events += self._step(
            leg, "cleared", after=("originated", "delivered", "established", "held", "retrieved")
        )
        del self.legs[leg.uid]
        return events

    def _hold(self, message: dict[str, str]) -> list[LinkEvent]:
        leg = self._leg(message)
        if leg is None:
            return []
        return self._step(leg, "held", after=("established", "retrieved"))

    def _unhold(self, message: dict[str, str]) -> list[LinkEvent]:
        leg = self._leg(message)
        if leg is None:
            return []
        return self._step(leg, "retrieved", after=("held",))

    def _transferred(self, message: dict[str, str], *prefixes: str) -> list[LinkEvent]:
        if message.get("Result") != "Success":
            return []
        events: list[LinkEvent] = []
        for prefix in prefixes:
            leg = self._leg(message, prefix)
            if leg is None:
                continue
            if leg.consult:
                events.append(call_event("transferred", leg.consult, leg.agent, consult_of=leg.uid))
                leg.consult = ""
            events += self._step(leg, "transferred", after=("established", "held", "retrieved"))
        return events

    def _blind_transfer(self, message: dict[str, str]) -> list[LinkEvent]:
        return self._transferred(message, "Transferer")

    def _attended_transfer(self, message: dict[str, str]) -> list[LinkEvent]:
        return self._transferred(message, "OrigTransferer", "SecondTransferer")

    def _var_set(self, message: dict[str, str]) -> list[LinkEvent]:
        name = message.get("Variable", "").lstrip("_")
        if not name.upper().startswith(self.options.ivr_prefix.upper()):
            return []
        linkedid = message.get("Linkedid") or message.get("Uniqueid", "")
        value = message.get("Value", "")
        if not linkedid:
            raise AmiProtocolError(f"IVR variable {name[:40]} without Linkedid")
        try:
            entry = str(parse_ivr(value))
        except InvalidIvrTag as exc:
            raise AmiProtocolError(f"IVR variable {name[:40]}: {exc}", linkedid) from None
        entries = remember(self._ivr, linkedid, [])
        if entry not in entries and len(entries) < 16:
            entries.append(entry)
        return []

    def _agent_called(self, message: dict[str, str]) -> list[LinkEvent]:
        queue = message.get("Queue", "")[:64]
        for key in ("Linkedid", "DestLinkedid"):
            if message.get(key) and queue:
                remember(self._queues, message[key], queue)
        leg = self.legs.get(message.get("DestUniqueid", ""))
        if leg is not None and queue:
            leg.queue = queue
        return []

    def _queue_member_pause(self, message: dict[str, str]) -> list[LinkEvent]:
        interface = message.get("Interface") or message.get("StateInterface", "")
        agent = member_agent(interface, self.options)
        if agent is None:
            return []
        paused = message.get("Paused", "").lower() in ("1", "true", "yes")
        reason = message.get("PausedReason") or message.get("Reason", "")
        return [agent_event(agent, AgentFlags(busy=paused, reason=reason))]

    def _originate_response(self, message: dict[str, str]) -> list[LinkEvent]:
        channel_id = self._placing_actions.pop(message.get("ActionID", ""), "")
        if not channel_id or message.get("Response") != "Failure":
            return []
        self._placing.pop(channel_id, None)
        leg = self.legs.pop(channel_id, None)
        agent = leg.agent if leg is not None else self.agent_of(message.get("Channel", ""))
        if agent is None:
            return []
        # Asterisk's Reason is the last control frame: 5 busy, 3 rang out, 8 congestion.
        reason = {"5": "busy", "3": "no_answer"}.get(message.get("Reason", ""), "invalid_number")
        return [
            call_event("failed", channel_id, agent, direction=Direction.OUTBOUND, reason=reason)
        ]


_HANDLERS: dict[str, Callable[[AmiCalls, dict[str, str]], list[LinkEvent]]] = {
    "Newchannel": AmiCalls._newchannel,
    "Newstate": AmiCalls._newstate,
    "DialBegin": AmiCalls._dial_begin,
    "DialEnd": AmiCalls._dial_end,
    "BridgeEnter": AmiCalls._bridge_enter,
    "Hangup": AmiCalls._hangup,
    "Hold": AmiCalls._hold,
    "Unhold": AmiCalls._unhold,
    "BlindTransfer": AmiCalls._blind_transfer,
    "AttendedTransfer": AmiCalls._attended_transfer,
    "AgentCalled": AmiCalls._agent_called,
    "AgentConnect": AmiCalls._agent_called,
    "QueueMemberPause": AmiCalls._queue_member_pause,
    "OriginateResponse": AmiCalls._originate_response,
    "VarSet": AmiCalls._var_set,
}
