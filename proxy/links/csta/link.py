"""The CSTA XML link: ECMA-269 services in ECMA-323 XML over raw TCP (Annex J.2 framing).

`csta://host:port` (or `primary,standby`: `csta://h1:p1,csta://h2:p2`). After every connect it
starts a monitor on each device (the roster's extensions, from `monitor()`, and the extras
below) and takes a SnapshotDevice of each, so the proxy rebuilds its calls, then reports events
as they come. A roster change is applied on the live connection: MonitorStart (and a fresh
snapshot) for new devices, MonitorStop for removed ones. SystemStatus goes both ways
as the heartbeat; a switch silent for 2.5 heartbeats is dropped so the standby takes over
within 3 s. Requests are matched to answers by invoke id; a CSTAErrorCode answer becomes
`LinkCommandFailed` with the error in the proxy's words.

URL options (the query of any of the addresses; the first that says wins):
- `devices`: extra devices to monitor beyond the roster's extensions (a supervisor's phone),
  separated by `+`, `;` or `,`, ranges allowed (`1001-1010`).
- `ed`: `3` (default) or `4`, the namespace edition of the documents we send.
- `heartbeat`: seconds between SystemStatus requests (default 1).
- `register`: `1` sends SystemRegister first, for switches that want it before monitors.
"""

from __future__ import annotations

import asyncio
import itertools
import logging

from proxy.errors import LinkCommandFailed, LinkUnavailable
from proxy.links.base import LinkCommand
from proxy.links.csta.codec import (
    EVENT_INVOKE_ID,
    Element,
    Fields,
    FrameDecoder,
    FrameError,
    build,
    call_id_of,
    conn,
    encode_frame,
    local,
    parse_document,
    text,
)
from proxy.links.csta.events import CstaCalls, snake
from proxy.links.csta.options import CstaOptions, address_of, read_url
from proxy.links.session import ReconnectingLink
from softphone.capabilities import EVERYTHING, LinkCapabilities
from softphone.errors import ProtocolError
from softphone.events import Snapshot

log = logging.getLogger(__name__)

COMMAND_TIMEOUT_SECONDS = 5.0
CONNECT_TIMEOUT_SECONDS = 2.0
# CSTAErrorCode values the core and the page already have words for.
_ERROR_CODES = {
    "invalidCallID": "no_such_call",
    "invalidConnectionID": "no_such_call",
    "invalidDeviceID": "invalid_device",
    "invalidCalledDeviceID": "invalid_number",
    "invalidDestination": "invalid_number",
}
_AGENT_STATES = {"ready": "ready", "busy": "notReady"}


class CstaLink(ReconnectingLink):
    """A `CtiLink` to a CSTA XML switch, or to a primary and standby pair (`host:port` each)."""

    kind = "CSTA link"

    def __init__(self, addresses: list[str], options: CstaOptions) -> None:
        super().__init__(addresses)
        self.options = options
        self.stable_seconds = options.stale_seconds
        self.calls = CstaCalls(options.devices)
        self.extras = frozenset(options.devices)
        self._writer: asyncio.StreamWriter | None = None
        self._ready = False
        self._invoke_ids = itertools.cycle(range(1, EVENT_INVOKE_ID))
        self._held_back: list[tuple[Element, bytes]] | None = None  # events during a snapshot

    @property
    def capabilities(self) -> LinkCapabilities:
        # ECMA-269 has a service for every command, and DeliveredEvent reports a recall.
        return EVERYTHING

    @property
    def watched(self) -> frozenset[str]:
        return frozenset(self.calls.monitors.values()) if self._up else frozenset()

    # --- commands ----------------------------------------------------------------------------
    async def send(self, command: LinkCommand) -> str:
        writer = self._writer
        if writer is None or not self._ready:
            raise LinkUnavailable("The phone system is not connected; try again in a moment")
        at = command.agent
        call = conn(self.calls.csta_id(at, command.call_id), at)
        op = command.op
        if op == "dial":
            answer = await self._request(
                writer,
                "MakeCall",
                [("callingDevice", at), ("calledDirectoryNumber", command.number)],
            )
            return text(answer, "callingDevice", "callID")
        if op == "consult":
            self.calls.consult_started(at, command.call_id)
            new_id = ""
            try:
                fields: Fields = [("existingCall", call), ("consultedDevice", command.number)]
                answer = await self._request(writer, "ConsultationCall", fields)
                new_id = text(answer, "initiatedCall", "callID")
            finally:
                self.calls.consult_ended(at, command.call_id, new_id)
            return new_id
        if op in ("complete_transfer", "conference"):
            consult = self.calls.consultation_of(at, command.call_id)
            if consult is None:
                raise LinkCommandFailed("no_consultation", "There is no consultation call")
            service = "TransferCall" if op == "complete_transfer" else "ConferenceCall"
            pair: Fields = [("heldCall", call), ("activeCall", conn(consult.csta_id, at))]
            await self._request(writer, service, pair)
            return ""
        if op == "set_state" and command.state == "ready":
            # Ready means reachable: DND is a device feature apart from the agent state, so
            # it is switched off too (first, so calls reach the agent as soon as they are ready).
            await self._request(writer, "SetDoNotDisturb", _dnd(at, on=False))
        service, fields = self._service(command, call)
        await self._request(writer, service, fields)
        return ""

    def _service(self, command: LinkCommand, call: Fields) -> tuple[str, Fields]:
        """The CSTA request for a command that needs nothing back but success."""
        at, op = command.agent, command.op
        simple = {
            "answer": ("AnswerCall", [("callToBeAnswered", call)]),
            "hangup": ("ClearConnection", [("connectionToBeCleared", call)]),
            "hold": ("HoldCall", [("callToBeHeld", call)]),
            "retrieve": ("RetrieveCall", [("callToBeRetrieved", call)]),
            "redirect": (
                "DeflectCall",
                [("callToBeDiverted", call), ("newDestination", command.number)],
            ),
            "transfer": (
                "SingleStepTransferCall",
                [("activeCall", call), ("transferredTo", command.number)],
            ),
            "dtmf": (
                "GenerateDigits",
                [("connectionToSendDigits", call), ("charactersToSend", command.digits)],
            ),
        }
        if op in simple:
            return simple[op]  # type: ignore[return-value]
        if op == "set_state" and command.state == "dnd":
            return "SetDoNotDisturb", _dnd(at, on=True)
        if op == "set_state" and command.state in _AGENT_STATES:
            return _agent_state(at, _AGENT_STATES[command.state], reason=command.reason)
        if op == "cancel_work":
            return _agent_state(at, "ready")
        if op in ("acd_login", "acd_logout"):
            state = "loggedOn" if op == "acd_login" else "loggedOff"
            return _agent_state(at, state, agent_id=at, group=command.group)
        if op in ("login", "logout"):
            # Hot desking: the agent takes (or leaves) the phone at `number`.
            state = "loggedOn" if op == "login" else "loggedOff"
            return _agent_state(command.number or at, state, agent_id=at)
        raise LinkCommandFailed("not_supported", f"CSTA link cannot {op} {command.state}".strip())

    async def _request(self, writer: asyncio.StreamWriter, service: str, fields: Fields) -> Element:
        """Send one request and wait for its answer; a CSTAErrorCode raises LinkCommandFailed."""
        invoke_id = next(self._invoke_ids)
        while invoke_id in self._pending:  # 9,998 requests in flight: wrap past the busy ones
            invoke_id = next(self._invoke_ids)
        future: asyncio.Future[Element] = asyncio.get_running_loop().create_future()
        self._pending[invoke_id] = future
        try:
            writer.write(encode_frame(invoke_id, build(self.options.namespace, service, fields)))
            await writer.drain()
            async with asyncio.timeout(COMMAND_TIMEOUT_SECONDS):
                answer = await future
        except (TimeoutError, ConnectionError):
            raise LinkUnavailable("The phone system did not answer; try again") from None
        finally:
            self._pending.pop(invoke_id, None)
        if local(answer) == "CSTAErrorCode":
            raise _refused(service, answer)
        return answer

    # --- the connection ------------------------------------------------------------------------
    async def _serve(self, url: str) -> None:
        host, port = address_of(url)
        # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation that
        # lands as the connection opens, and aclose() would then wait forever.
        async with asyncio.timeout(CONNECT_TIMEOUT_SECONDS):
            reader, writer = await asyncio.open_connection(host, port)
        self._writer = writer
        try:
            await self._until_switch(
                asyncio.create_task(self._read(reader, writer)),
                asyncio.create_task(self._open(writer, url)),
            )
        finally:
            self._writer, self._ready = None, False
            writer.transport.abort()  # a dead switch will not answer a polite close either

    async def _open(self, writer: asyncio.StreamWriter, url: str) -> None:
        """Monitor every device, snapshot them, then keep the heartbeat going."""
        if self.options.register:
            await self._request(
                writer, "SystemRegister", [("requestTypes", [("systemStatus", "true")])]
            )
        async with self.monitoring:  # a roster change waits until these monitors are up
            self.calls.monitors.clear()
            for at in sorted(self.devices):
                await self._monitor_start(writer, at)
            self._ready = True
            self._connected(url, f"{len(self.calls.monitors)} devices monitored")
            await self._snapshot(writer)
        status = build(self.options.namespace, "SystemStatus", [("systemStatus", "normal")])
        while True:
            await asyncio.sleep(self.options.heartbeat)
            # Not awaited as a request: any frame at all is proof of life, and the reader
            # drops a silent switch on its own clock.
            writer.write(encode_frame(next(self._invoke_ids), status))
            await writer.drain()

    async def _monitor_start(self, writer: asyncio.StreamWriter, at: str) -> None:
        try:
            answer = await self._request(
                writer, "MonitorStart", [("monitorObject", [("deviceObject", at)])]
            )
        except LinkCommandFailed as exc:  # one unknown extension must not cost the others
            log.error("CSTA MonitorStart %s refused: %s", at, exc)
            return
        self.calls.monitors[text(answer, "monitorCrossRefID")] = at

    async def _snapshot(self, writer: asyncio.StreamWriter) -> None:
        """Every monitored device's calls as the switch has them, as one `Snapshot`."""
        # Events wait until it is out: a switch may send one right behind its last answer (in
        # the same read), and applied first it would be wiped by the older snapshot, in the
        # link's calls and in the proxy's (a call ringing after a restart, cleared as "gone").
        self._held_back = []
        try:
            calls = []
            for at in sorted(set(self.calls.monitors.values())):
                answer = await self._request(writer, "SnapshotDevice", [("snapshotObject", at)])
                calls += self.calls.snapshot(at, answer)
            agents = [self.calls.agents.event(at) for at in self.calls.agents]
            self.emit(Snapshot(calls=tuple(calls), agents=tuple(agents)))
        finally:
            held_back, self._held_back = self._held_back, None
            for root, raw in held_back:
                self._event(root, raw)

    async def _monitor_live(self) -> None:
        writer = self._writer
        if writer is None or not self._ready:
            return  # between connections: the next connect monitors `self.devices`
        wanted = self.devices
        for xref, at in list(self.calls.monitors.items()):
            if at not in wanted:
                del self.calls.monitors[xref]  # its events are skipped from now on
                self.calls.agents.pop(at, None)
                try:
                    await self._request(writer, "MonitorStop", [("monitorCrossRefID", xref)])
                except LinkCommandFailed as exc:  # already gone at the switch: fine
                    log.info("CSTA MonitorStop %s: %s", at, exc)
        watched = set(self.calls.monitors.values())
        added = sorted(wanted - watched)
        for at in added:
            await self._monitor_start(writer, at)
        # A new device may already be ringing: a full snapshot (not a partial one, which would
        # clear the other devices' calls) brings its calls in.
        await self._snapshot(writer)
        log.info("CSTA monitors now %d devices (%d new)", len(self.calls.monitors), len(added))

    async def _read(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        decoder = FrameDecoder()
        while True:
            try:
                async with asyncio.timeout(self.options.stale_seconds):
                    data = await reader.read(65536)
            except TimeoutError:
                raise LinkUnavailable(
                    f"CSTA switch silent for {self.options.stale_seconds:g} s"
                ) from None
            if not data:
                raise LinkUnavailable("CSTA switch closed the connection")
            decoder.feed(data)
            while True:
                try:
                    frame = decoder.next_frame()
                except FrameError as exc:
                    log.error("CSTA frame skipped [call_id=-]: %s", exc)
                    if exc.fatal:
                        raise  # where the next frame starts is lost: reconnect and resync
                    continue
                if frame is None:
                    break
                self._dispatch(writer, *frame)

    def _dispatch(self, writer: asyncio.StreamWriter, invoke_id: int, raw: bytes) -> None:
        """One frame in: an answer to a request, an event, or the switch's own request."""
        try:
            root = parse_document(raw)
            name = local(root)
            if name.endswith("Response") or name == "CSTAErrorCode":
                future = self._pending.get(invoke_id)
                if future is not None and not future.done():
                    future.set_result(root)
            elif name.endswith("Event"):
                if self._held_back is not None:
                    self._held_back.append((root, raw))
                else:
                    self._event(root, raw)
            elif name == "SystemStatus":
                answer = build(self.options.namespace, "SystemStatusResponse", [])
                writer.write(encode_frame(invoke_id, answer))
            else:
                raise ProtocolError(f"unexpected CSTA message {name!r}")
        except ProtocolError as exc:
            # One bad document must not cost the connection, nor the other agents' events.
            log.error("CSTA message skipped [call_id=%s]: %s", call_id_of(raw), exc)

    def _event(self, root: Element, raw: bytes) -> None:
        try:
            for event in self.calls.translate(root):
                self.emit(event)
        except ProtocolError as exc:  # one bad event must not cost the ones after it
            log.error("CSTA message skipped [call_id=%s]: %s", call_id_of(raw), exc)


def _dnd(at: str, *, on: bool) -> Fields:
    return [("device", at), ("doNotDisturbOn", "true" if on else "false")]


def _agent_state(
    at: str, state: str, *, agent_id: str = "", group: str = "", reason: str = ""
) -> tuple[str, Fields]:
    fields: list[tuple[str, str | Fields]] = [("device", at), ("requestedAgentState", state)]
    if agent_id:
        fields.append(("agentID", agent_id))
    if group:
        fields.append(("group", group))
    if reason:
        # ECMA-269 has no standard not-ready reason before ed6: switches read it as private data.
        fields.append(("extensions", [("privateData", [("private", [("reasonCode", reason)])])]))
    return "SetAgentState", fields


def _refused(service: str, error: Element) -> LinkCommandFailed:
    category = next(iter(error.iterchildren()), None)
    value = (category.text or "").strip() if category is not None else ""
    kind = local(category) if category is not None else "unspecified"
    code = _ERROR_CODES.get(value) or snake(value or kind) or "refused"
    return LinkCommandFailed(code[:64], f"{service} refused by the switch: {kind} {value}".strip())


def open_csta_link(url: str, *, self_url: str) -> CstaLink:
    """`csta://host:port[?devices=…&ed=3|4&heartbeat=1&register=0]`, or `primary,standby`."""
    return CstaLink(*read_url(url))
