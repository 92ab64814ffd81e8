"""The switch side of CSTA XML (ECMA-323 over TCP, Annex J.2 framing) for the link contract.

It frames and parses on its own (struct and lxml, not the link's codec), so a framing bug in
the link cannot hide behind the same bug here. Monitors get the cross reference `M<device>`,
which the transcripts in tests/integration/fixtures/csta/ rely on. Like a switch, it sends a
device's events only while the link monitors it (MonitorStart until MonitorStop).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from lxml import etree

NAME = "csta"
ED3 = "http://www.ecma-international.org/standards/ecma-323/csta/ed3"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "csta"
EVENT_INVOKE = 9999

# Our codes back into the CSTAErrorCode a switch would send: (category, value).
_ERRORS = {
    "no_such_call": ("operation", "invalidCallID"),
    "invalid_device": ("operation", "invalidDeviceID"),
}
_CONNECTION_STATES = {
    "delivered": "alerting",
    "established": "connected",
    "retrieved": "connected",
    "conferenced": "connected",
    "held": "hold",
    "originated": "initiated",
}


def frame(invoke_id: int, xml: str | bytes) -> bytes:
    body = xml.encode() if isinstance(xml, str) else xml
    return b"\x00\x00" + struct.pack(">H", len(body) + 8) + b"%04d" % invoke_id + body


def _camel(code: str) -> str:
    head, *rest = code.split("_")
    return head + "".join(word.title() for word in rest)


def _local(element: Any) -> str:
    return str(etree.QName(element).localname)


def _find(root: Any, *path: str) -> str:
    """Text at a path of local names, "" when absent."""
    element = root
    for name in path:
        element = next((c for c in element if _local(c) == name), None)
        if element is None:
            return ""
    return str(element.text or "").strip()


def _conn(name: str, call_id: str, device: str) -> str:
    return (
        f"<{name}><callID>{escape(call_id)}</callID><deviceID>{escape(device)}</deviceID></{name}>"
    )


def _dev(name: str, number: str) -> str:
    if not number:
        return f"<{name}><notKnown/></{name}>"
    return f"<{name}><deviceIdentifier>{escape(number)}</deviceIdentifier></{name}>"


class CstaPeer:
    """A CSTA XML switch on loopback: monitors, snapshots, commands, heartbeats and faults."""

    def __init__(
        self,
        devices: tuple[str, ...] = ("1001", "1002"),
        *,
        spelling: str = "TransferedEvent",
        auto_events: bool = False,
    ) -> None:
        self.devices = devices
        self.spelling = spelling  # the standard's spelling, or the dictionary's TransferredEvent
        self.auto_events = auto_events  # answer commands with the events a switch would send
        self.url = ""
        self.port = 0
        self.commands: list[dict[str, Any]] = []
        self.requests: list[str] = []  # every request's element name, heartbeats included
        self.connections = 0
        self.heartbeat = 1.0
        self._snapshot: list[dict[str, Any]] = []
        self._refusals: dict[str, str] = {}
        self._calls: dict[str, dict[str, Any]] = {}
        self._current: asyncio.StreamWriter | None = None
        self._silent = False
        self._ready = asyncio.Event()
        self._new_calls = 0
        self.monitored: set[str] = set()  # the current connection's monitored devices

    @asynccontextmanager
    async def running(self) -> AsyncIterator[CstaPeer]:
        server = await asyncio.start_server(self._handler, "127.0.0.1", self.port)
        self.port = server.sockets[0].getsockname()[1]
        self.url = f"csta://127.0.0.1:{self.port}?devices={'+'.join(self.devices)}"
        try:
            yield self
        finally:
            server.close()
            if self._current is not None:
                self._current.transport.abort()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(server.wait_closed(), 1)

    # --- the connection --------------------------------------------------------------------
    async def _handler(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._silent = False
        monitors = snapshots = 0
        self.monitored = set()
        heartbeat = asyncio.create_task(self._heartbeat(writer))
        try:
            while True:
                header = await reader.readexactly(8)
                assert header[:2] == b"\x00\x00", header
                (length,) = struct.unpack(">H", header[2:4])
                invoke_id = int(header[4:8])
                root = etree.fromstring(await reader.readexactly(length - 8))
                name = _local(root)
                self.requests.append(name)
                if self._silent:
                    continue
                before = len(self.commands)
                reply = self._answer(name, root)
                if reply is not None:
                    writer.write(frame(invoke_id, reply))
                if len(self.commands) > before:
                    for event in self._follow_up():
                        writer.write(frame(EVENT_INVOKE, event))
                monitors += name == "MonitorStart"
                if name == "SnapshotDevice":
                    snapshots += 1
                    if snapshots == monitors:  # the link's opening is over: it is live
                        self._current = writer
                        self._ready.set()
                elif name == "SystemStatus" and not monitors:  # live, monitoring nothing
                    self._current = writer
                    self._ready.set()
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
            if self._current is writer:
                self._current = None
                self._ready.clear()
            writer.transport.abort()

    async def _heartbeat(self, writer: asyncio.StreamWriter) -> None:
        invoke = 0
        while True:
            await asyncio.sleep(self.heartbeat)
            if not self._silent:
                invoke = invoke % 9000 + 1
                status = "<systemStatus>normal</systemStatus>"
                writer.write(frame(invoke, self._doc("SystemStatus", status)))

    def _doc(self, name: str, body: str = "") -> str:
        return f'<?xml version="1.0" encoding="UTF-8"?><{name} xmlns="{ED3}">{body}</{name}>'

    def _answer(self, name: str, root: Any) -> str | None:
        if name == "SystemStatusResponse":
            return None
        if name == "MonitorStart":
            device = _find(root, "monitorObject", "deviceObject")
            if device in self._refusals:  # refuse(device, "invalid_device"): no such phone
                category, value = _ERRORS.get(self._refusals[device], ("operation", "generic"))
                return self._doc("CSTAErrorCode", f"<{category}>{value}</{category}>")
            xref = f"<monitorCrossRefID>M{escape(device)}</monitorCrossRefID>"
            self.monitored.add(device)
            return self._doc("MonitorStartResponse", xref)
        if name == "MonitorStop":
            self.monitored.discard(_find(root, "monitorCrossRefID").removeprefix("M"))
            return self._doc("MonitorStopResponse")
        if name == "SnapshotDevice":
            return self._snapshot_response(_find(root, "snapshotObject"))
        if name in ("SystemStatus", "SystemRegister"):
            return self._doc(f"{name}Response")
        command = self._command(name, root)
        self.commands.append(command)
        code = self._refusals.get(command["call_id"])
        if code:
            category, value = _ERRORS.get(code, ("operation", _camel(code)))
            return self._doc("CSTAErrorCode", f"<{category}>{value}</{category}>")
        if name == "MakeCall":
            return self._doc(
                "MakeCallResponse", _conn("callingDevice", self._new_call(), command["agent"])
            )
        if name == "ConsultationCall":
            new_call = _conn("initiatedCall", self._new_call(), command["agent"])
            return self._doc("ConsultationCallResponse", new_call)
        return self._doc(f"{name}Response")

    def _new_call(self) -> str:
        self._new_calls += 1
        return f"n{self._new_calls}"

    def _command(self, name: str, root: Any) -> dict[str, Any]:
        """A received request in the contract's words (op, agent, call_id, number, ...)."""
        command = dict.fromkeys(
            ("agent", "call_id", "number", "digits", "state", "reason", "group"), ""
        )
        connection = next((c for c in root if _find(c, "callID")), None)
        if connection is not None:
            command["call_id"] = _find(connection, "callID")
            command["agent"] = _find(connection, "deviceID")
        number = {
            "MakeCall": "calledDirectoryNumber",
            "ConsultationCall": "consultedDevice",
            "SingleStepTransferCall": "transferredTo",
            "DeflectCall": "newDestination",
        }.get(name)
        if number:
            command["number"] = _find(root, number)
        ops = {
            "AnswerCall": "answer",
            "ClearConnection": "hangup",
            "HoldCall": "hold",
            "RetrieveCall": "retrieve",
            "DeflectCall": "redirect",
            "MakeCall": "dial",
            "ConsultationCall": "consult",
            "SingleStepTransferCall": "transfer",
            "TransferCall": "complete_transfer",
            "ConferenceCall": "conference",
            "GenerateDigits": "dtmf",
        }
        if name == "MakeCall":
            command["agent"] = _find(root, "callingDevice")
        if name == "GenerateDigits":
            command["digits"] = _find(root, "charactersToSend")
        if name in ops:
            return {"op": ops[name], **command}
        command["agent"] = _find(root, "device")
        if name == "SetDoNotDisturb":
            on = _find(root, "doNotDisturbOn") == "true"
            return {"op": "set_state", **command, "state": "dnd" if on else "ready"}
        if name == "SetAgentState":
            state, group = _find(root, "requestedAgentState"), _find(root, "group")
            command["group"] = group
            reason = next((e.text for e in root.iter() if _local(e) == "reasonCode"), "")
            if state in ("loggedOn", "loggedOff"):
                op = ("acd_" if group else "") + ("login" if state == "loggedOn" else "logout")
                if not group:
                    command["number"], command["agent"] = command["agent"], _find(root, "agentID")
                return {"op": op, **command}
            mapped = {"ready": "ready", "notReady": "busy"}.get(state, state)
            return {"op": "set_state", **command, "state": mapped, "reason": reason or ""}
        return {"op": name, **command}

    def _snapshot_response(self, device: str) -> str:
        items = "".join(
            "<snapshotDeviceResponseInfo>"
            + _conn("connectionIdentifier", call["call_id"], device)
            + "<localCallState><compoundCallState><localConnectionState>"
            + _CONNECTION_STATES.get(call["kind"], "connected")
            + "</localConnectionState></compoundCallState></localCallState>"
            + "</snapshotDeviceResponseInfo>"
            for call in self._snapshot
            if call.get("agent", "1001") == device
        )
        data = f"<snapshotData>{items}</snapshotData>"
        body = f"<crossRefIDorSnapshotData>{data}</crossRefIDorSnapshotData>"
        return self._doc("SnapshotDeviceResponse", body)

    def _follow_up(self) -> list[str]:
        """What a switch reports after carrying out a command, when `auto_events` is on."""
        if not self.auto_events:
            return []
        command = self.commands[-1]
        kind = {
            "answer": "established",
            "hangup": "cleared",
            "hold": "held",
            "retrieve": "retrieved",
        }.get(command["op"])
        if kind is None or self._refusals.get(command["call_id"]):
            return []
        fields = self._calls.get(command["call_id"], {})
        return [self.event_xml(kind, command["call_id"], command["agent"], **fields)]

    # --- the contract's controls -----------------------------------------------------------
    async def connected(self) -> asyncio.StreamWriter:
        await asyncio.wait_for(self._ready.wait(), 10)
        assert self._current is not None
        return self._current

    async def send(self, data: bytes) -> None:
        writer = await self.connected()
        writer.write(data)
        await writer.drain()

    async def emit(self, kind: str, call_id: str, agent: str = "1001", **fields: Any) -> None:
        if kind == "delivered":
            self._calls[call_id] = fields
        await self.connected()
        if agent not in self.monitored:
            return  # a switch says nothing about a device nobody monitors
        await self.send(frame(EVENT_INVOKE, self.event_xml(kind, call_id, agent, **fields)))

    def event_xml(self, kind: str, call_id: str, agent: str = "1001", **fields: Any) -> str:
        """One CSTA event document for a contract `kind` at `agent`'s device."""
        ani, dnis = fields.get("ani", ""), fields.get("dnis", "")
        number, reason = fields.get("number", ""), fields.get("reason", "")
        outbound = fields.get("direction") == "outbound"
        me = _conn
        parts = {
            "delivered": lambda: (
                "DeliveredEvent",
                me("connection", call_id, agent)
                + _dev("alertingDevice", dnis if outbound else agent)
                + _dev("callingDevice", agent if outbound else ani)
                + _dev("calledDevice", dnis or agent)
                + (_dev("lastRedirectionDevice", fields["queue"]) if fields.get("queue") else "")
                + (
                    f"<correlatorData>{escape('|'.join(fields['ivr']))}</correlatorData>"
                    if fields.get("ivr")
                    else ""
                ),
            ),
            "established": lambda: (
                "EstablishedEvent",
                me("establishedConnection", call_id, agent)
                + _dev("answeringDevice", dnis if outbound else agent)
                + _dev("callingDevice", agent if outbound else ani)
                + _dev("calledDevice", dnis or agent),
            ),
            "held": lambda: (
                "HeldEvent",
                me("heldConnection", call_id, agent)
                + _dev("holdingDevice", agent)
                + ("<cause>consultation</cause>" if reason == "consultation" else ""),
            ),
            "retrieved": lambda: (
                "RetrievedEvent",
                me("retrievedConnection", call_id, agent) + _dev("retrievingDevice", agent),
            ),
            "cleared": lambda: (
                "ConnectionClearedEvent",
                me("droppedConnection", call_id, agent) + _dev("releasingDevice", agent),
            ),
            "transferred": lambda: (
                self.spelling,
                me("primaryOldCall", call_id, agent)
                + _dev("transferringDevice", agent)
                + _dev("transferredToDevice", number),
            ),
            "diverted": lambda: (
                "DivertedEvent",
                me("connection", call_id, agent)
                + _dev("divertingDevice", agent)
                + _dev("newDestination", number),
            ),
            "originated": lambda: (
                "OriginatedEvent",
                me("originatedConnection", call_id, agent)
                + _dev("callingDevice", agent)
                + _dev("calledDevice", dnis),
            ),
            "failed": lambda: (
                "FailedEvent",
                me("failedConnection", call_id, agent)
                + _dev("failingDevice", dnis)
                + _dev("calledDevice", dnis)
                + f"<cause>{escape(reason or 'busy')}</cause>",
            ),
            "queued": lambda: (
                "QueuedEvent",
                me("queuedConnection", call_id, fields.get("queue", ""))
                + _dev("queue", fields.get("queue", ""))
                + _dev("callingDevice", ani)
                + _dev("calledDevice", dnis),
            ),
        }
        name, body = parts[kind]()
        xref = f"<monitorCrossRefID>M{escape(agent)}</monitorCrossRefID>"
        return self._doc(name, xref + body)

    async def emit_agent(self, name: str, agent: str = "1001", body: str = "") -> None:
        """An agent event (`AgentReadyEvent`, `DoNotDisturbEvent`, ...) at `agent`'s device."""
        device = _dev("agentDevice", agent) if name.startswith("Agent") else _dev("device", agent)
        xref = f"<monitorCrossRefID>M{escape(agent)}</monitorCrossRefID>"
        await self.send(frame(EVENT_INVOKE, self._doc(name, xref + device + body)))

    async def play(self, name: str) -> int:
        """Send every document of the transcript fixture `name` as an event; how many."""
        transcript = etree.parse(str(FIXTURES / f"{name}.xml"))
        documents = [d for d in transcript.getroot() if isinstance(d.tag, str)]
        for document in documents:
            await self.send(frame(EVENT_INVOKE, etree.tostring(document, with_tail=False)))
        return len(documents)

    def set_snapshot(self, calls: list[dict[str, Any]]) -> None:
        self._snapshot = calls

    def refuse(self, call_id: str, code: str) -> None:
        self._refusals[call_id] = code

    async def drop(self) -> None:
        writer = await self.connected()
        self._ready.clear()
        writer.close()

    async def restart(self) -> None:
        """The switch restarts: the connection drops, every call is forgotten (the link's next
        snapshots are empty), and call ids used before may come again."""
        self._snapshot = []
        self._calls.clear()
        self._new_calls = 0
        await self.drop()

    def silence(self) -> None:
        self._silent = True

    async def send_garbage(self, call_id: str) -> None:
        # Well framed, badly formed: the element is never closed.
        broken = self._doc("DeliveredEvent", _conn("connection", call_id, "1001"))
        await self.send(frame(EVENT_INVOKE, re.sub(r"</DeliveredEvent>$", "<alerting", broken)))


PEER = CstaPeer
