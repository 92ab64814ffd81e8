"""CSTA events, translated into the proxy's own `CallEvent` and `AgentEvent`.

CSTA reports connections (a call at a device); the proxy wants calls as one agent sees them.
`CstaCalls` reads each event into the call book (`callbook.CallBook`: what each monitored
device's calls look like, and their snapshots) and reports the call whole, as it now is.
"""

from __future__ import annotations

import logging
import re

from pydantic import ValidationError

from proxy.links.csta import codec as csta_codec
from proxy.links.csta.agents import AGENT_EVENTS
from proxy.links.csta.callbook import CallBook, Tracked
from proxy.links.csta.codec import Element, child, children, local, text
from softphone.devices import dialable, read_device
from softphone.errors import ProtocolError
from softphone.events import (
    Direction,
    LinkEvent,
    PartyStatus,
)
from softphone.ivr import read_call_data

log = logging.getLogger(__name__)

# Events that change nothing the proxy shows: read and let go, without an error line.
QUIET_EVENTS = frozenset(
    {
        "ServiceInitiatedEvent",
        "NetworkReachedEvent",
        "CallInformationEvent",
        "DigitsDialedEvent",
        "BridgedEvent",
        "ForwardingEvent",
        "MessageWaitingEvent",
        "AgentBusyEvent",  # on a call: the calls themselves say so
        "MonitorEndedEvent",
    }
)
# FailedEvent causes in the proxy's words; others are snake-cased as they come.
_FAILURE_REASONS = {
    "busy": "busy",
    "callNotAnswered": "no_answer",
    "noAnswer": "no_answer",
    "destNotObtainable": "invalid_number",
    "invalidNumberFormat": "invalid_number",
    "invalidNumber": "invalid_number",
}
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def snake(name: str) -> str:
    """`invalidCallState` -> `invalid_call_state`: CSTA names as the proxy's codes."""
    return _CAMEL.sub("_", name).lower()


class CstaCalls(CallBook):
    """The monitored devices' calls and agents; turns CSTA events into ours."""

    # --- events ------------------------------------------------------------------------------
    def translate(self, root: Element) -> list[LinkEvent]:
        """Our events for one CSTA event document; `ProtocolError` for one we cannot read."""
        name = local(root)
        if name in QUIET_EVENTS:
            return []
        agent_event = name in AGENT_EVENTS
        handler = _CALL_HANDLERS.get(name)
        if handler is None and not agent_event:
            raise ProtocolError(f"unknown CSTA event {name!r}")
        xref = text(root, "monitorCrossRefID")
        at = self.monitors.get(xref, "")
        if not at:
            log.warning("CSTA %s for unknown monitor %r skipped", name, xref)
            return []
        try:
            if handler is None:
                return [self.agents.apply(root, at)]
            return handler(self, root, at)
        except ValidationError as exc:
            first = exc.errors()[0]
            raise ProtocolError(f"{name}: {first['msg']} at {first['loc']}") from None

    def _delivered(self, root: Element, at: str) -> list[LinkEvent]:
        csta_id, _ = connection(root, "connection")
        calling, called = device(root, "callingDevice"), device(root, "calledDevice")
        alerting = device(root, "alertingDevice")
        outbound = calling == at and alerting != at
        reason = self._recall(at, csta_id, text(root, "cause"))
        call = self._track(at, csta_id, Direction.OUTBOUND if outbound else Direction.INBOUND, "")
        call.ani = call.ani or dialable(calling)
        call.dnis = call.dnis or dialable(called)
        if not call.ivr and not call.call_data:
            call.ivr, call.call_data = read_call_data(_correlator(root))
        if outbound:
            call.leg = "connected"
            call.parties[alerting or called] = PartyStatus.RINGING
        else:
            call.leg = "alerting"
            redirected = device(root, "lastRedirectionDevice")
            call.queue = call.queue or (redirected if redirected != at else "")
            if calling:
                call.parties[calling] = PartyStatus.CONNECTED
        return [self.event(call, "delivered", reason)]

    def _recall(self, at: str, csta_id: str, cause: str) -> str:
        """Why a call rings at `at` again: a held call rings back when held too long (whatever
        cause the switch gives), and cause `recall` on a call we no longer have is a transfer
        that nobody answered coming back."""
        known = self.calls.get((at, csta_id))
        if known is not None and known.leg == "hold":
            return "hold_recall"
        if cause == "recall":
            return "hold_recall" if known is not None else "transfer_recall"
        return ""

    def _established(self, root: Element, at: str) -> list[LinkEvent]:
        csta_id, _ = connection(root, "establishedConnection")
        answering, calling = device(root, "answeringDevice"), device(root, "callingDevice")
        call = self.calls.get((at, csta_id))
        if call is None:  # answered before we saw it ring (a snapshot gap): still ours
            inbound = answering == at or calling != at
            call = self._track(
                at, csta_id, Direction.INBOUND if inbound else Direction.OUTBOUND, ""
            )
            call.ani, call.dnis = dialable(calling), dialable(device(root, "calledDevice"))
        call.leg = "connected"
        if answering and answering != at:  # the far end answered our call
            kept = {n: s for n, s in call.parties.items() if s != PartyStatus.RINGING}
            call.parties = {**kept, answering: PartyStatus.CONNECTED}
        elif calling and calling != at:
            call.parties[calling] = PartyStatus.CONNECTED
        return [self.event(call, "conferenced" if call.conference else "established")]

    def _held(self, root: Element, at: str) -> list[LinkEvent]:
        csta_id, held_device = connection(root, "heldConnection")
        holding = device(root, "holdingDevice")
        call = self.calls.get((at, csta_id))
        if call is None:
            return []
        if holding == at or (not holding and held_device == at):
            call.leg = "hold"
            cause = text(root, "cause")
            consult = call.consulting or cause == "consultation"
            call.held_reason = "consultation" if consult else ""
            return [self.event(call, "held")]
        call.parties[holding or held_device] = PartyStatus.HELD
        return [self.event(call)]

    def _retrieved(self, root: Element, at: str) -> list[LinkEvent]:
        csta_id, retrieved_device = connection(root, "retrievedConnection")
        retrieving = device(root, "retrievingDevice")
        call = self.calls.get((at, csta_id))
        if call is None:
            return []
        if retrieving == at or (not retrieving and retrieved_device == at):
            call.leg, call.held_reason, call.consulting = "connected", "", False
            return [self.event(call, "retrieved")]
        call.parties[retrieving or retrieved_device] = PartyStatus.CONNECTED
        return [self.event(call)]

    def _connection_cleared(self, root: Element, at: str) -> list[LinkEvent]:
        csta_id, dropped = connection(root, "droppedConnection")
        releasing = device(root, "releasingDevice")
        call = self.calls.get((at, csta_id))
        if dropped == at or (not dropped and releasing == at):
            if call is None:  # not one we know: report it, the core ignores unknown calls
                call = Tracked(csta_id or "-", csta_id or "-", at, Direction.INBOUND)
            return self._gone(call, "cleared")
        if call is None:
            return []
        # Someone else left: in a conference the call goes on with one party fewer.
        call.parties.pop(dropped or releasing, None)
        if call.conference and len(call.parties) < 2:
            call.conference = False
        return [self.event(call)]

    def _call_cleared(self, root: Element, at: str) -> list[LinkEvent]:
        csta_id = text(root, "clearedCall", "callID")
        call = self.calls.get((at, csta_id))
        return self._gone(call, "cleared") if call is not None else []

    def _transferred(self, root: Element, at: str) -> list[LinkEvent]:
        primary, _ = connection(root, "primaryOldCall")
        secondary, _ = connection(root, "secondaryOldCall")
        transferring = device(root, "transferringDevice")
        old = [c for i in (primary, secondary) if (c := self.calls.get((at, i))) is not None]
        if transferring == at:
            return [e for call in old for e in self._gone(call, "transferred")]
        if not old:
            return []
        call = old[0]
        endpoints = _endpoints(root, "transferredConnections")
        self._rekey(call, endpoints.pop(at, ""))
        if endpoints:
            call.parties = dict.fromkeys(endpoints, PartyStatus.CONNECTED)
        else:
            call.parties.pop(transferring, None)
            to = device(root, "transferredToDevice")
            if to and to != at:
                call.parties[to] = PartyStatus.CONNECTED
        return [self.event(call)]

    def _conferenced(self, root: Element, at: str) -> list[LinkEvent]:
        primary, _ = connection(root, "primaryOldCall")
        secondary, _ = connection(root, "secondaryOldCall")
        old = [c for i in (primary, secondary) if (c := self.calls.get((at, i))) is not None]
        if not old:
            return []
        # The call the agent consulted from carries on; its consultation call merges into it.
        old.sort(key=lambda c: bool(c.consult_of))
        call, merged = old[0], old[1:]
        endpoints = _endpoints(root, "conferenceConnections")
        new_id = endpoints.pop(at, "")
        events: list[LinkEvent] = []
        for other in merged:
            events += self._gone(other, "cleared", "conferenced")
            if not endpoints:
                call.parties |= other.parties
        self._rekey(call, new_id)
        if endpoints:
            call.parties = dict.fromkeys(endpoints, PartyStatus.CONNECTED)
        added = device(root, "addedParty")
        if added and added != at and not endpoints:
            call.parties[added] = PartyStatus.CONNECTED
        call.leg, call.conference, call.held_reason, call.consulting = "connected", True, "", False
        return [*events, self.event(call, "conferenced")]

    def _diverted(self, root: Element, at: str) -> list[LinkEvent]:
        csta_id, _ = connection(root, "connection")
        call = self.calls.get((at, csta_id))
        if call is None or device(root, "divertingDevice") not in (at, ""):
            return []  # diverted to us: its DeliveredEvent follows
        return self._gone(call, "diverted")

    def _originated(self, root: Element, at: str) -> list[LinkEvent]:
        csta_id, _ = connection(root, "originatedConnection")
        call = self._track(at, csta_id, Direction.OUTBOUND, "initiated")
        call.ani = call.ani or dialable(device(root, "callingDevice") or at)
        call.dnis = call.dnis or dialable(device(root, "calledDevice"))
        return [self.event(call, "originated")]

    def _failed(self, root: Element, at: str) -> list[LinkEvent]:
        csta_id, _ = connection(root, "failedConnection")
        call = self.calls.get((at, csta_id))
        if call is None:
            return []
        cause = text(root, "cause")
        return self._gone(call, "failed", _FAILURE_REASONS.get(cause, snake(cause)[:64]))

    def _queued(self, root: Element, at: str) -> list[LinkEvent]:
        # No event of ours: the queue's name rides on the call's DeliveredEvent when it comes.
        csta_id, _ = connection(root, "queuedConnection")
        queue = device(root, "queue")
        if csta_id and queue:
            if len(self._queues) > 10_000:  # calls that never reached us must not pile up
                self._queues.clear()
            self._queues[csta_id] = queue
        return []


_CALL_HANDLERS = {
    "DeliveredEvent": CstaCalls._delivered,
    "EstablishedEvent": CstaCalls._established,
    "HeldEvent": CstaCalls._held,
    "RetrievedEvent": CstaCalls._retrieved,
    "ConnectionClearedEvent": CstaCalls._connection_cleared,
    "CallClearedEvent": CstaCalls._call_cleared,
    # ECMA-269 spells it with one r; several switches send the dictionary spelling.
    "TransferedEvent": CstaCalls._transferred,
    "TransferredEvent": CstaCalls._transferred,
    "ConferencedEvent": CstaCalls._conferenced,
    "DivertedEvent": CstaCalls._diverted,
    "OriginatedEvent": CstaCalls._originated,
    "FailedEvent": CstaCalls._failed,
    "QueuedEvent": CstaCalls._queued,
}


def _endpoints(root: Element, list_name: str) -> dict[str, str]:
    """device -> its new callID, from a transferred or conferenced connection list."""
    found: dict[str, str] = {}
    for item in children(child(root, list_name), "connectionListItem"):
        new_call, new_device = connection(item, "newConnection")
        endpoint = device(item, "endpoint") or new_device
        if endpoint:
            found[endpoint] = new_call
    return found


def device(element: Element | None, name: str) -> str:
    """The device named `name`, as the number it is (`N<1001>;noa=nk` is 1001, an Avaya
    `1001:CM1:10.0.0.1:0` too), else as shown (a queue's name); "" for a withheld caller.

    Every device an event names is read through here, so the agent's own device matches the
    monitored one whatever form the switch writes it in, and ANI and DNIS are numbers.
    """
    read = read_device(csta_codec.device(element, name))
    return read.number or read.display


def connection(element: Element | None, name: str) -> tuple[str, str]:
    """`(callID, device)` of the connection named `name`, its device read as `device` does."""
    call_id, raw = csta_codec.connection(element, name)
    read = read_device(raw)
    return call_id, read.number or read.display


def _correlator(root: Element) -> str:
    """The call's correlatorData, as text or hex: IVR entries or other data, read by the core."""
    return text(root, "correlatorData", "string") or text(root, "correlatorData")
