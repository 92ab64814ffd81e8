"""What each monitored device's calls look like, as far as the CSTA link has seen them.

`CallBook` keeps a `Tracked` record per call at a device (direction, caller, parties, our
connection's state), so every event can be reported whole, a call keeps its id when the PBX
renames it in a transfer or conference, and a consultation call knows which call it consults
from. It also rebuilds a device's calls from a snapshot; `events.CstaCalls` reads CSTA events
into it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from proxy.links.csta.agents import CstaAgents
from proxy.links.csta.codec import Element, child, descendant, local, text
from softphone.errors import ProtocolError
from softphone.events import (
    MAX_CONFERENCE_PARTIES,
    CallEvent,
    Direction,
    EventKind,
    LinkEvent,
    Party,
    PartyStatus,
)


@dataclass
class Tracked:
    """One call at one monitored device, as far as the link has seen it."""

    our_id: str  # the id the proxy knows the call by; stays when CSTA renames the call
    csta_id: str
    device: str
    direction: Direction
    leg: str = "alerting"  # our connection: initiated, alerting, connected, hold
    ani: str = ""
    dnis: str = ""
    queue: str = ""
    ivr: tuple[str, ...] = ()
    call_data: str = ""
    consult_of: str = ""
    consulting: bool = False  # a ConsultationCall from this call is under way
    held_reason: str = ""
    conference: bool = False
    parties: dict[str, PartyStatus] = field(default_factory=dict)


class CallBook:
    """The calls and agent states of the monitored devices, and the link's look-ups into them."""

    def __init__(self, devices: Iterable[str]) -> None:
        self.devices = set(devices)
        self.monitors: dict[str, str] = {}  # monitorCrossRefID -> device, this connection's
        self.calls: dict[tuple[str, str], Tracked] = {}  # (device, CSTA callID)
        self.agents = CstaAgents()
        self._queues: dict[str, str] = {}  # CSTA callID -> the queue it waited in
        self._consulting: dict[str, str] = {}  # device -> our id of the call consulting
        self._consult_of: dict[tuple[str, str], str] = {}  # a consultation not seen yet

    def find(self, device_id: str, our_id: str) -> Tracked | None:
        return next(
            (c for c in self.calls.values() if c.device == device_id and c.our_id == our_id),
            None,
        )

    def csta_id(self, device_id: str, our_id: str) -> str:
        """The CSTA callID to act on for our call id (the same unless the PBX renamed it)."""
        call = self.find(device_id, our_id)
        return call.csta_id if call is not None else our_id

    def consultation_of(self, device_id: str, our_id: str) -> Tracked | None:
        """The consultation call made from `our_id`, or else the device's other live call."""
        others = [c for c in self.calls.values() if c.device == device_id and c.our_id != our_id]
        linked = next((c for c in others if c.consult_of == our_id), None)
        return linked or next((c for c in others if c.leg == "connected"), None)

    def consult_started(self, device_id: str, our_id: str) -> None:
        self._consulting[device_id] = our_id
        call = self.find(device_id, our_id)
        if call is not None:
            call.consulting = True

    def consult_ended(self, device_id: str, our_id: str, new_csta_id: str = "") -> None:
        """The ConsultationCall answered (with the new call) or failed (without one)."""
        self._consulting.pop(device_id, None)
        call = self.find(device_id, our_id)
        if call is not None and not new_csta_id:
            call.consulting = False
        new = self.calls.get((device_id, new_csta_id))
        if new is not None and not new.consult_of:
            new.consult_of = our_id
        elif new is None and new_csta_id:  # its events come after the answer
            if len(self._consult_of) > 1000:
                self._consult_of.clear()
            self._consult_of[(device_id, new_csta_id)] = our_id

    def _track(self, at: str, csta_id: str, direction: Direction, leg: str) -> Tracked:
        if not csta_id:
            raise ProtocolError("event without a callID")
        call = self.calls.get((at, csta_id))
        if call is None:
            call = Tracked(csta_id, csta_id, at, direction, leg)
            consulting = self._consult_of.pop((at, csta_id), "") or self._consulting.get(at, "")
            if direction == Direction.OUTBOUND and consulting:
                call.consult_of = consulting
            call.queue = self._queues.pop(csta_id, "")
            self.calls[(at, csta_id)] = call
        return call

    def _rekey(self, call: Tracked, new_csta_id: str) -> None:
        if new_csta_id and new_csta_id != call.csta_id:
            self.calls.pop((call.device, call.csta_id), None)
            call.csta_id = new_csta_id
            self.calls[(call.device, new_csta_id)] = call

    def event(self, call: Tracked, kind: EventKind | None = None, reason: str = "") -> CallEvent:
        """The call as it now is, as a `kind` event (by default: what its state says)."""
        parties = tuple(
            Party(number=number[:32], status=status)
            for number, status in list(call.parties.items())[:MAX_CONFERENCE_PARTIES]
        )
        return CallEvent(
            kind=kind or self._kind(call),
            call_id=call.our_id,
            agent=call.device,
            device=call.device,
            direction=call.direction,
            ani=call.ani[:32],
            dnis=call.dnis[:32],
            ivr=call.ivr,
            call_data=call.call_data,
            queue=call.queue[:64],
            global_call_id=call.csta_id,
            consult_of=call.consult_of,
            parties=parties,
            reason=reason or (call.held_reason if call.leg == "hold" else ""),
        )

    @staticmethod
    def _kind(call: Tracked) -> EventKind:
        if call.leg == "alerting":
            return "delivered"
        if call.leg == "initiated":
            return "originated"
        if call.leg == "hold":
            return "held"
        if call.conference:
            return "conferenced"
        statuses = set(call.parties.values())
        if call.direction == Direction.OUTBOUND and statuses == {PartyStatus.RINGING}:
            return "delivered"  # dialled, the far end rings
        return "established"

    def _gone(self, call: Tracked, kind: EventKind, reason: str = "") -> list[LinkEvent]:
        self.calls.pop((call.device, call.csta_id), None)
        return [self.event(call, kind, reason)]

    def snapshot(self, at: str, response: Element) -> list[CallEvent]:
        """The device's calls from a SnapshotDeviceResponse; calls no longer there are dropped."""
        seen: dict[str, Tracked] = {}
        for info in (e for e in response.iter() if local(e) == "snapshotDeviceResponseInfo"):
            csta_id = text(info, "connectionIdentifier", "callID")
            found = descendant(child(info, "localCallState"), "localConnectionState")
            state = (found.text or "").strip() if found is not None else ""
            if not csta_id or state not in _SNAPSHOT_LEGS:
                continue
            leg = _SNAPSHOT_LEGS[state]
            call = self.calls.get((at, csta_id))
            if call is None:
                direction = Direction.OUTBOUND if leg == "initiated" else Direction.INBOUND
                call = Tracked(csta_id, csta_id, at, direction, leg)
            elif call.leg != leg:
                call.leg = leg
            seen[csta_id] = call
        for key in [k for k in self.calls if k[0] == at]:
            del self.calls[key]
        for csta_id, call in seen.items():
            self.calls[(at, csta_id)] = call
        return [self.event(call) for call in seen.values()]


_SNAPSHOT_LEGS = {
    "alerting": "alerting",
    "queued": "alerting",
    "initiated": "initiated",
    "connected": "connected",
    "hold": "hold",
}
