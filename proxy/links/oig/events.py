"""OIG events and call status, translated into the proxy's `CallEvent`, `AgentEvent` and snapshot.

The gateway reports by monitored object (a numeric `objectId` per device) and by the call's
`localCallId` at that device. `OigCalls` knows which object is which device, keeps what each
call looked like (caller, called number, direction, the call a consultation was made from) so
every event is reported whole, and keeps each agent's DND / make busy / ACD state so every
feature event becomes the agent's complete state. Event type and cause names are the
`callEventType`, `eventCauseType` and `featureEventType` enumerations of the public OIG schema.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

from pydantic import ValidationError

from proxy.links.oig.soap import Element, child, children, pairs, text
from softphone.agents import AgentFlags, agent_event
from softphone.devices import number_of
from softphone.errors import ProtocolError
from softphone.events import (
    AgentEvent,
    CallEvent,
    Direction,
    EventKind,
    LinkEvent,
)

log = logging.getLogger(__name__)

CALL_KINDS: Final[dict[str, EventKind]] = {
    "CALL_DELIVERED": "delivered",
    "CALL_QUEUED": "delivered",  # waiting in a queue: rings nowhere yet, reported with the queue
    "CALL_ESTABLISHED": "established",
    "CALL_HELD": "held",
    "CALL_RETRIEVED": "retrieved",
    "CALL_TRANSFERRED": "transferred",
    "CALL_CONFERENCED": "conferenced",
    "CALL_DIVERTED": "diverted",
    "CALL_ORIGINATED": "originated",
    "CALL_FAILED": "failed",
    "CALL_CLEAR": "cleared",
}
# The rest of the schema's callEventType values: nothing the proxy shows, read and let go.
# CALL_RECEIVED is among them: the schema does not say how it differs from CALL_DELIVERED.
QUIET_CALL_TYPES: Final = frozenset(
    {
        "UNKNOWN",
        "ACCOUNT_CODE_SET",
        "ACD2_PATH",
        "ACD2_GROUP",
        "GROUP",
        "ACD_AGENT_FEATURE",
        "ACTIVATE_FEATURE",
        "CALL_RECEIVED",
        "CMD_RESPONSE",
        "CONFERENCE_HELD",
        "CONFERENCE_FEATURE",
        "DEVICE_DROPPED",
        "EXTENSION_IN_USE",
        "FORWARD_FEATURE",
        "IN_SERVICE",
        "MONITOR_SET",
        "OUT_OF_SERVICE",
        "REMOTE_PARTY_UPDATE",
        "RESILIENT_DEVICE",
        "ROUTING_DEVICE",
        "TRUNK_DIGITS_OUTPULSED",
        "USERID_FEATURE",
        "GROUP_PRESENCE_FEATURE",
        "ACD_EXPRESS_GROUP_EVENT",
        "INFORMATION_UPDATE_EVENT",
        "MONITOR_FAILED_EVENT",
        "PRG_MONITOR_SET_EVENT",
        "PRG_MONITOR_FAILED_EVENT",
    }
)
# getCallStatus `callState` -> the kind a snapshot reports the call as; others mean no call.
STATUS_KINDS: Final[dict[str, EventKind]] = {
    "DELIVERED": "delivered",
    "QUEUED": "delivered",
    "RECEIVED": "delivered",
    "ESTABLISHED": "established",
    "HELD": "held",
    "ORIGINATED": "originated",
}
_FAILURE_CAUSES: Final = {
    "DESTINATION_BUSY": "busy",
    "DESTINATION_DO_NOT_DISTURB": "busy",
    "DESTINATION_NOT_OBTAINABLE": "invalid_number",
    "DESTINATION_UNAVAILABLE": "no_answer",
}
_CONSULTATION_CAUSES: Final = frozenset({"CONS_HOLD", "CONS_HOLD_INVOKED", "CONS_CALL_INVOKED"})
# deviceName values that say who called, whom they called, and where a call waited.
_CALLER, _CALLED, _ORIGINAL = "CALLING_DEVICE", "CALLED_DEVICE", "ORIGINAL_DESTINATION_DEVICE"
_QUEUE_DEVICES: Final = ("ACD_AGENT_GROUP_DEVICE", "GROUP_DEVICE", "ACD_PATH_EXIT_DEVICE")
_ON: Final = frozenset({"true", "1", "on", "yes", "feature_enabled", "enabled"})


@dataclass
class Tracked:
    """One call at one monitored device, as far as the link has seen it."""

    call_id: str
    device: str
    direction: Direction
    ani: str = ""
    dnis: str = ""
    queue: str = ""
    consult_of: str = ""
    global_id: str = ""
    held: bool = False  # on hold at this device: ringing again is a hold recall


@dataclass
class AgentRecord:
    logged_in: bool = True
    dnd: bool = False
    busy: bool = False
    work: bool = False
    reason: str = ""
    groups: set[str] = field(default_factory=set)

    def event(self, agent: str) -> AgentEvent:
        flags = AgentFlags(
            self.logged_in, self.dnd, self.work, self.busy, self.reason, tuple(sorted(self.groups))
        )
        return agent_event(agent, flags)


def devices_of(call_event: Element) -> dict[str, dict[str, str]]:
    """deviceName -> {attributeName: attributeValue} of a callEvent's `device` records."""
    return {
        text(item, "deviceName"): pairs(item, "deviceAttribute")
        for item in children(call_event, "device")
    }


def _number(devices: dict[str, dict[str, str]], *names: str) -> str:
    """The first named device's NUMBER, read as the core reads any device identifier: "" for
    a withheld or unknown caller, and never its NAME, which is no number to search."""
    for name in names:
        number = number_of(devices.get(name, {}).get("NUMBER", ""))
        if number:
            return number
    return ""


def _reason(kind: EventKind, cause: str, *, held: bool) -> str:
    """Why, in the proxy's words: a consultation hold, a failure's cause, or a hold recall."""
    if kind == "held" and cause in _CONSULTATION_CAUSES:
        return "consultation"
    if kind == "failed":
        return _FAILURE_CAUSES.get(cause, cause.lower()[:64])
    if kind == "delivered" and held:
        # A call held too long rings back at the device that held it (whatever the cause).
        return "hold_recall"
    return ""


def _queue(devices: dict[str, dict[str, str]]) -> str:
    """The ACD group or path the call came through: its number, else its name."""
    for name in _QUEUE_DEVICES:
        found = devices.get(name, {})
        value = found.get("NUMBER") or found.get("NAME") or ""
        if value:
            return value[:32]
    return ""


class OigCalls:
    """The calls and agent states of the monitored devices; turns OIG events into ours."""

    def __init__(self, devices: Iterable[str]) -> None:
        self.devices = tuple(devices)
        self.objects: dict[str, str] = {}  # objectId -> device, for this session
        self.calls: dict[tuple[str, str], Tracked] = {}  # (device, localCallId)
        self.agents: dict[str, AgentRecord] = {}
        self._consulting: dict[str, str] = {}  # device -> the call a consultation is made from

    def bind(self, object_id: str, device: str) -> None:
        self.objects[object_id] = device

    def object_of(self, device: str) -> str | None:
        return next((o for o, d in self.objects.items() if d == device), None)

    def agent(self, device: str) -> AgentRecord:
        return self.agents.setdefault(device, AgentRecord())

    def consult_started(self, device: str, call_id: str) -> None:
        self._consulting[device] = call_id

    def consult_failed(self, device: str) -> None:
        self._consulting.pop(device, None)

    # --- events --------------------------------------------------------------------------------
    def translate(self, message: Element) -> list[LinkEvent]:
        """One event message (a `return` of getNumberedEvent): what it means to the proxy."""
        call_event = child(message, "callEvent")
        if call_event is not None:
            return self._call(call_event)
        feature = child(message, "featureEvent")
        if feature is not None:
            return self._feature(feature)
        system = child(message, "systemEvent")
        if system is not None:
            log.info(
                "OIG system event %s (icp %s, %s)",
                text(system, "eventType") or "?",
                system.get("icpId", "?"),
                text(system, "connectionState") or "-",
            )
            return []
        kind = text(message, "eventType") or "none"
        raise ProtocolError(f"event of type {kind!r} carries no call, feature or system event")

    def _device(self, element: Element) -> str:
        object_id = (element.get("objectId") or "").strip()
        device = self.objects.get(object_id)
        if device is None:
            raise ProtocolError(f"event for objectId {object_id or '(none)'} we do not monitor")
        return device

    def _call(self, event: Element) -> list[LinkEvent]:
        call_id = (event.get("localCallId") or "").strip()
        if not call_id:
            raise ProtocolError("call event without a localCallId")
        device = self._device(event)
        kind_name = text(event, "type")
        if kind_name == "WORK_TIMER_EXPIRED":
            record = self.agent(device)
            record.work = False
            return [record.event(device)]
        if kind_name in QUIET_CALL_TYPES:
            log.debug("OIG %s skipped [call_id=%s]", kind_name, call_id)
            return []
        kind = CALL_KINDS.get(kind_name)
        if kind is None:
            raise ProtocolError(f"unknown call event type {kind_name!r} [call_id={call_id}]")
        devices = devices_of(event)
        attributes = pairs(event, "callEventAttribute")
        tracked = self._track(device, call_id, kind, devices)
        if kind_name == "CALL_QUEUED":
            tracked.queue = _queue(devices) or tracked.queue
        tracked.global_id = attributes.get("CURRENT_GLOBAL_CALL_ID", "")[:64] or tracked.global_id
        reason = _reason(kind, text(event, "cause"), held=tracked.held)
        if kind == "held":
            tracked.held = reason != "consultation"
        elif kind in ("delivered", "retrieved", "established", "conferenced"):
            tracked.held = False
        out: list[LinkEvent] = [self._event(kind, tracked, reason=reason)]
        if kind in ("cleared", "transferred", "diverted"):
            self.calls.pop((device, call_id), None)
        if kind == "cleared" and attributes.get("WORK_TIMER_ACTIVE", "").lower() in _ON:
            record = self.agent(device)
            record.work = True
            out.append(record.event(device))
        return out

    def _track(
        self, device: str, call_id: str, kind: EventKind, devices: dict[str, dict[str, str]]
    ) -> Tracked:
        tracked = self.calls.get((device, call_id))
        caller = _number(devices, _CALLER)
        called = _number(devices, _CALLED, _ORIGINAL)
        if tracked is None:
            outbound = kind == "originated" or (caller == device and called != device)
            direction = Direction.OUTBOUND if outbound else Direction.INBOUND
            tracked = Tracked(call_id, device, direction)
            if kind == "originated" and device in self._consulting:
                tracked.consult_of = self._consulting.pop(device)
            self.calls[(device, call_id)] = tracked
        tracked.ani = caller or tracked.ani
        tracked.dnis = called or tracked.dnis
        return tracked

    def _event(self, kind: EventKind, tracked: Tracked, *, reason: str = "") -> CallEvent:
        try:
            return CallEvent(
                kind=kind,
                call_id=tracked.call_id,
                agent=tracked.device,
                device=tracked.device,
                direction=tracked.direction,
                ani=tracked.ani,
                dnis=tracked.dnis,
                queue=tracked.queue,
                global_call_id=tracked.global_id,
                consult_of=tracked.consult_of,
                reason=reason,
            )
        except ValidationError as exc:
            first = exc.errors()[0]
            raise ProtocolError(
                f"call event field {first['loc']}: {first['msg']} [call_id={tracked.call_id}]"
            ) from None

    def _feature(self, event: Element) -> list[LinkEvent]:
        device = self._device(event)
        kind = text(event, "eventType")
        attributes = pairs(event, "featureEventAttribute")
        raw_state = attributes.get("FEATURE_EVENT_STATE") or attributes.get("CALL_STATE") or ""
        on = raw_state.strip().lower() in _ON
        record = self.agent(device)
        if kind == "DO_NOT_DISTURB":
            record.dnd = on
        elif kind in ("MAKE_BUSY", "MAKE_BUSY_STATE"):
            record.busy = on
            if not on:
                record.reason = ""
        elif kind == "ACD_AGENT":
            record.logged_in = on
            if not on:
                record.groups.clear()
        elif kind in ("JOIN_GROUP", "LEAVE_GROUP"):
            group = attributes.get("GROUP_DN", "")[:32]
            if not group:
                raise ProtocolError(f"{kind} for {device} without a GROUP_DN")
            (record.groups.add if kind == "JOIN_GROUP" else record.groups.discard)(group)
        else:
            log.debug("OIG feature event %s at %s skipped", kind or "?", device)
            return []
        try:
            return [record.event(device)]
        except ValidationError as exc:
            raise ProtocolError(f"agent event for {device}: {exc.errors()[0]['msg']}") from None

    # --- snapshots -------------------------------------------------------------------------
    def forget(self) -> None:
        """A new session: calls are rebuilt from the next snapshot, object ids from monitors."""
        self.objects.clear()
        self.calls.clear()
        self._consulting.clear()

    def status(self, device: str, record: Element) -> list[CallEvent]:
        """The calls at `device` per its getCallStatus answer; malformed entries are logged."""
        for key in [k for k in self.calls if k[0] == device]:
            del self.calls[key]
        found: list[CallEvent] = []
        for event in children(record, "callEvent"):
            call_id = (event.get("localCallId") or "").strip()
            kind = STATUS_KINDS.get(text(event, "callState"))
            if kind is None or not call_id:
                continue
            try:
                tracked = self._track(device, call_id, kind, devices_of(event))
                found.append(self._event(kind, tracked))
            except ProtocolError as exc:
                log.error("OIG call status entry skipped [call_id=%s]: %s", call_id, exc)
        return found
