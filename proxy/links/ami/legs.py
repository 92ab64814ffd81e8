"""The agent legs of an AMI link: which channel is whose, call ids, consultations, resync.

Which channel is an agent's: see `ami.channels`.

Call ids: the agent channel's `Uniqueid` is the call id. It is unique per device leg (two agents
on one internal call each get their own), lasts as long as the leg, and Asterisk accepts it
wherever an action wants a channel name. The `Linkedid` (the Uniqueid of the channel that started
the call, shared by every channel of it) is the `global_call_id`, and it is how IVR data set on the
caller's channel and the queue that offered the call find the agent's leg.

`calls.AmiCalls` adds the event handlers on top of these records.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TypeVar

from pydantic import ValidationError

from proxy.links.ami.channels import agent_of, device_of, number
from proxy.links.ami.protocol import AmiOptions, AmiProtocolError, call_id_of
from softphone.events import CallEvent, Direction, LinkEvent, Snapshot

V = TypeVar("V")
_REMEMBERED = 10_000  # linked ids whose IVR data and queue are kept: a bound, not a leak
# Asterisk channel states (ChannelState): 4 the phone is dialling, 5 ringing, 6 answered.
RING, RINGING, UP = "4", "5", "6"


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
class AmiLegs:
    """The agent legs Asterisk has told us about, what commands need to know of them, and a
    resync from the channels Asterisk lists."""

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
            call_event("held", call_id, agent, reason="consultation"),
            call_event(
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
            call_event("cleared", consult, leg.agent, consult_of=leg.uid),
            *self._step(leg, "retrieved", after=("held",)),
        ]

    def consult_base(self, consult_id: str) -> Leg | None:
        return next((leg for leg in self.legs.values() if leg.consult == consult_id), None)

    # --- the records ----------------------------------------------------------------------
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


def call_event(kind: str, call_id: str, agent: str, **fields: object) -> CallEvent:
    return CallEvent.model_validate({"kind": kind, "call_id": call_id, "agent": agent, **fields})


def remember(table: OrderedDict[str, V], key: str, value: V) -> V:
    """`table[key]`, set to `value` when new; the oldest entries go past `_REMEMBERED`."""
    if key not in table:
        table[key] = value
        while len(table) > _REMEMBERED:
            table.popitem(last=False)
    return table[key]
