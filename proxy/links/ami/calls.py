"""Asterisk's channel events, told as the proxy's call events: no I/O, one `AmiCalls` per link.

Which channel is an agent's: see `ami_channels`.

Call ids: the agent channel's `Uniqueid` is the call id. It is unique per device leg (two agents
on one internal call each get their own), lasts as long as the leg, and Asterisk accepts it
wherever an action wants a channel name. The `Linkedid` (the Uniqueid of the channel that started
the call, shared by every channel of it) is the `global_call_id`, and it is how IVR data set on the
caller's channel and the queue that offered the call find the agent's leg.

Asterisk reports every step of every channel; an agent leg moves only forward (ringing, answered,
held...), so a repeated or late report of the same step produces nothing.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from pydantic import ValidationError

from proxy.links.ami.channels import IGNORED_EVENTS, agent_of, device_of, member_agent, number
from proxy.links.ami.protocol import AmiOptions, AmiProtocolError, call_id_of
from softphone.agents import AgentFlags, agent_event
from softphone.errors import InvalidIvrTag
from softphone.events import CallEvent, Direction, LinkEvent, Snapshot
from softphone.ivr import parse_ivr

V = TypeVar("V")
_REMEMBERED = 10_000  # linked ids whose IVR data and queue are kept: a bound, not a leak
# Asterisk channel states (ChannelState): 4 the phone is dialling, 5 ringing, 6 answered.
RING, RINGING, UP = "4", "5", "6"
_FAILURES = {
    "BUSY": "busy",
    "NOANSWER": "no_answer",
    "CONGESTION": "invalid_number",
    "CHANUNAVAIL": "invalid_number",
}
# Events a full `Events: on` session also carries that say nothing the proxy needs.


class AmiUnknownEvent(AmiProtocolError):
    """An event name this link does not know (a newer Asterisk, or a typo in a test)."""


@dataclass
class Leg:
    """One agent's channel and the last step reported for it."""

    uid: str
    channel: str
    agent: str
    linkedid: str
    direction: Direction = Direction.INBOUND
    ani: str = ""
    dnis: str = ""
    queue: str = ""
    step: str = ""  # the last event kind emitted for this leg ("" before any)
    peer: str = ""  # the other party's channel, which a redirect moves
    placed: bool = False  # we originated it: its own ringing is the agent's phone being called
    consult: str = ""  # the consultation call made from this leg, while there is one


@dataclass
class AmiCalls:
    """The agent legs Asterisk has told us about, and the events they produce."""

    options: AmiOptions = field(default_factory=AmiOptions)
    legs: dict[str, Leg] = field(default_factory=dict)
    _ivr: OrderedDict[str, list[str]] = field(default_factory=OrderedDict)
    _queues: OrderedDict[str, str] = field(default_factory=OrderedDict)
    _placing: dict[str, str] = field(default_factory=dict)  # ChannelId -> number dialled
    _placing_actions: dict[str, str] = field(default_factory=dict)  # ActionID -> ChannelId

    # --- which channels are agents' ------------------------------------------------------
    def agent_of(self, channel: str) -> str | None:
        return agent_of(channel, self.options)

    def device_of(self, agent: str) -> str:
        return device_of(agent, self.options)

    # --- what commands need --------------------------------------------------------------
    def channel_of(self, call_id: str) -> str:
        """The channel name for an action on `call_id`: Asterisk also takes the Uniqueid."""
        leg = self.legs.get(call_id)
        return leg.channel if leg is not None else call_id

    def expect_placed(self, channel_id: str, number: str, action_id: str) -> None:
        """An Originate is about to create channel `channel_id` for a call to `number`."""
        self._placing[channel_id] = number
        self._placing_actions[action_id] = channel_id

    def forget_placed(self, channel_id: str) -> None:
        self._placing.pop(channel_id, None)

    def start_consult(self, call_id: str, consult_id: str, number: str) -> list[LinkEvent]:
        """Atxfer was accepted: the call waits on consultation hold, the consultation dials."""
        leg = self.legs.get(call_id)
        agent = leg.agent if leg is not None else ""
        if leg is not None:
            leg.consult, leg.step = consult_id, "held"
        if not agent:
            return []
        return [
            _event("held", call_id, agent, reason="consultation"),
            _event(
                "originated",
                consult_id,
                agent,
                direction=Direction.OUTBOUND,
                dnis=number,
                consult_of=call_id,
            ),
        ]

    def end_consult(self, call_id: str) -> list[LinkEvent]:
        """The attended transfer was aborted: the consultation ends, the call comes back."""
        leg = self.legs.get(call_id)
        if leg is None or not leg.consult:
            return []
        consult, leg.consult = leg.consult, ""
        return [
            _event("cleared", consult, leg.agent, consult_of=leg.uid),
            *self._step(leg, "retrieved", after=("held",)),
        ]

    def consult_base(self, consult_id: str) -> Leg | None:
        return next((leg for leg in self.legs.values() if leg.consult == consult_id), None)

    # --- events --------------------------------------------------------------------------
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

    def resync(self, entries: list[dict[str, str]]) -> Snapshot:
        """The agents' calls from CoreShowChannel entries; legs not among them are gone."""
        before, self.legs = self.legs, {}
        calls: list[CallEvent] = []
        for entry in entries:
            agent = self.agent_of(entry.get("Channel", ""))
            uid = entry.get("Uniqueid", "")
            state = entry.get("ChannelState", "")
            if agent is None or not uid or state not in (RING, RINGING, UP):
                continue
            leg = before.get(uid) or Leg(uid, entry["Channel"], agent, entry.get("Linkedid", uid))
            if not leg.ani and leg.direction != Direction.OUTBOUND:
                leg.ani = number(entry.get("ConnectedLineNum", ""))
            if state == RING:
                leg.direction, leg.step = Direction.OUTBOUND, leg.step or "originated"
                leg.dnis = leg.dnis or number(entry.get("Exten", ""))
            elif state == RINGING:
                leg.step = "delivered"
            elif leg.step not in ("held", "established"):
                leg.step = "established"
            self.legs[uid] = leg
            try:
                calls.append(self._leg_event(leg, leg.step))
            except ValidationError:
                continue  # a channel that cannot be a call (an id over 64 characters)
        return Snapshot(calls=tuple(calls))

    def _leg(self, message: dict[str, str], prefix: str = "") -> Leg | None:
        """The agent leg a message is about (created on first sight), None for other channels."""
        channel = message.get(f"{prefix}Channel", "")
        agent = self.agent_of(channel)
        if agent is None:
            if not channel and not prefix:
                raise AmiProtocolError(
                    f"{message.get('Event')} without Channel", call_id_of(message)
                )
            return None
        uid = message.get(f"{prefix}Uniqueid", "")
        if not uid:
            raise AmiProtocolError(
                f"{message.get('Event')} for {channel[:40]} without {prefix}Uniqueid",
                message.get(f"{prefix}Linkedid") or call_id_of(message),
            )
        leg = self.legs.get(uid)
        if leg is None:
            leg = Leg(uid, channel, agent, message.get(f"{prefix}Linkedid") or uid)
            if uid in self._placing:
                leg.placed, leg.direction = True, Direction.OUTBOUND
                leg.dnis = self._placing.pop(uid)
            self.legs[uid] = leg
        return leg

    def _leg_event(self, leg: Leg, kind: str, **fields: object) -> CallEvent:
        ivr = tuple(self._ivr.get(leg.linkedid, ()))
        queue = leg.queue or self._queues.get(leg.linkedid, "")
        return CallEvent.model_validate(
            {
                "kind": kind,
                "call_id": leg.uid,
                "agent": leg.agent,
                "device": leg.channel,
                "direction": leg.direction,
                "ani": leg.ani,
                "dnis": leg.dnis,
                "ivr": ivr,
                "queue": queue,
                "global_call_id": leg.linkedid,
                **fields,
            }
        )

    def _step(
        self, leg: Leg, kind: str, *, after: tuple[str, ...], **fields: object
    ) -> list[LinkEvent]:
        """Move `leg` to `kind` if its last step is one of `after`, else nothing (a repeat)."""
        if leg.step not in after:
            return []
        event = self._leg_event(leg, kind, **fields)
        leg.step = kind
        return [event]

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
            event = _event(
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
            events.append(_event("cleared", leg.consult, leg.agent, consult_of=leg.uid))
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
                events.append(_event("transferred", leg.consult, leg.agent, consult_of=leg.uid))
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
        entries = _remember(self._ivr, linkedid, [])
        if entry not in entries and len(entries) < 16:
            entries.append(entry)
        return []

    def _agent_called(self, message: dict[str, str]) -> list[LinkEvent]:
        queue = message.get("Queue", "")[:64]
        for key in ("Linkedid", "DestLinkedid"):
            if message.get(key) and queue:
                _remember(self._queues, message[key], queue)
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
        return [_event("failed", channel_id, agent, direction=Direction.OUTBOUND, reason=reason)]


def _event(kind: str, call_id: str, agent: str, **fields: object) -> CallEvent:
    return CallEvent.model_validate({"kind": kind, "call_id": call_id, "agent": agent, **fields})


def _remember(table: OrderedDict[str, V], key: str, value: V) -> V:
    """`table[key]`, set to `value` when new; the oldest entries go past `_REMEMBERED`."""
    if key not in table:
        table[key] = value
        while len(table) > _REMEMBERED:
            table.popitem(last=False)
    return table[key]


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
