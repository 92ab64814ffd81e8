"""The gateway side of the Mitel OIG web services (SOAP 1.1 over HTTP) for the link contract.

A plain ASGI app under uvicorn on a loopback port. It reads requests and writes answers with
its own lxml code, not the link's codec, so a namespace or element-name slip in the link shows
up here instead of hiding behind the same slip. Device N gets objectId 500+N, the first session
id is 9001, events are numbered per session from 1, and long polls wait on a per-session queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import httpx
import uvicorn
from lxml import etree

NAME = "oig"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "oig"
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
SERVICE_NS = {
    "SessionService": "http://mitel.com/oig/session/SessionService",
    "StandardCCService": "http://mitel.com/oig/cc/standard/StandardCCService",
}
CC = "http://mitel.com/oig/cc"
BUSY_CODES = {"Lunch": 1, "Break": 2, "Training": 3}
# Our codes back into what a gateway would say.
_FAULTS = {"no_such_call": ("soapenv:Client", "Invalid localCallId")}
_TYPES = {
    "delivered": "CALL_DELIVERED",
    "queued": "CALL_QUEUED",
    "established": "CALL_ESTABLISHED",
    "held": "CALL_HELD",
    "retrieved": "CALL_RETRIEVED",
    "transferred": "CALL_TRANSFERRED",
    "conferenced": "CALL_CONFERENCED",
    "diverted": "CALL_DIVERTED",
    "originated": "CALL_ORIGINATED",
    "failed": "CALL_FAILED",
    "cleared": "CALL_CLEAR",
}
_STATES = {"delivered": "DELIVERED", "established": "ESTABLISHED", "held": "HELD"}
_CALL_OPS = {
    "answerCall": "answer",
    "clearCall": "hangup",
    "holdCall": "hold",
    "retrieveCall": "retrieve",
    "redirectCall": "redirect",
    "makeCall": "dial",
    "consultationCall": "consult",
    "transferCall": "complete_transfer",
    "conferenceCall": "conference",
    "outPulseDigits": "dtmf",
}
_DROPPED = object()


def _local(element: Any) -> str:
    return str(etree.QName(element).localname)


def _fields(element: Any) -> dict[str, str]:
    """Child text by local name, one level down (and inside a req/request record)."""
    found: dict[str, str] = {}
    for item in element:
        if not isinstance(item.tag, str):
            continue
        if len(item):
            found |= _fields(item) | {f"@{k}": v for k, v in item.attrib.items()}
        else:
            found[_local(item)] = (item.text or "").strip()
    return found


def envelope(operation: str, service: str, body: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="{SOAP}">'
        f'<soapenv:Body><ns:{operation}Response xmlns:ns="{SERVICE_NS[service]}" '
        f'xmlns:cc="{CC}">{body}</ns:{operation}Response></soapenv:Body></soapenv:Envelope>'
    ).encode()


def fault(code: str, message: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="{SOAP}">'
        f"<soapenv:Body><soapenv:Fault><faultcode>{escape(code)}</faultcode>"
        f"<faultstring>{escape(message)}</faultstring></soapenv:Fault></soapenv:Body>"
        "</soapenv:Envelope>"
    ).encode()


def ok(extra: str = "", body: str = "") -> str:
    return f'<ns:return result="true"{extra}>{body}</ns:return>'


def device_xml(name: str, number: str) -> str:
    return (
        f"<cc:device><cc:deviceName>{name}</cc:deviceName><cc:deviceAttribute>"
        f"<cc:attributeName>NUMBER</cc:attributeName><cc:attributeValue>{escape(number)}"
        "</cc:attributeValue></cc:deviceAttribute></cc:device>"
    )


@dataclass
class Session:
    id: str
    events: asyncio.Queue[Any] = field(default_factory=asyncio.Queue)
    counter: int = 0
    statuses: set[str] = field(default_factory=set)
    silent: bool = False
    monitored: set[str] = field(default_factory=set)  # devices, by monitorObject


class OigPeer:
    """An OIG on loopback: sessions, monitors, call status, numbered events, commands, faults."""

    def __init__(self, devices: tuple[str, ...] = ("1001", "1002"), *, query: str = "") -> None:
        self.devices = devices
        self.query = query
        self.url = ""
        self.base = ""
        self.port = 0
        self.commands: list[dict[str, Any]] = []
        self.requests: list[tuple[float, str]] = []  # (monotonic time, operation)
        self.logins: list[dict[str, str]] = []
        self.connections = 0
        self.ha_callback = ""
        self._ids = {d: str(500 + i) for i, d in enumerate(devices, start=1)}
        self._sessions: dict[str, Session] = {}
        self._current: Session | None = None
        self._ready = asyncio.Event()
        self._release = asyncio.Event()
        self._snapshot: list[dict[str, Any]] = []
        self._refusals: dict[str, str] = {}
        self._next_session = 9000
        self._server: uvicorn.Server | None = None

    @asynccontextmanager
    async def running(self) -> AsyncIterator[OigPeer]:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted sockets inherit it: answers leave at once instead of after a delayed ACK.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind(("127.0.0.1", self.port))
        self.port = sock.getsockname()[1]
        self.base = f"http://127.0.0.1:{self.port}/axis2/services"
        # `;` inside options: the proxy's settings check reads every comma as "standby".
        codes = ";".join(f"{k}:{v}" for k, v in BUSY_CODES.items())
        query = "user=Acme&password=s3cret-local&app_password=s3cret-app&app=SoftphoneProxy"
        query += f"&devices={';'.join(self.devices)}&busy_codes={codes}{self.query}"
        self.url = f"oig+http://127.0.0.1:{self.port}/axis2/services?{query}"
        config = uvicorn.Config(
            self._app, log_level="warning", access_log=False, lifespan="off", interface="asgi3",
            timeout_graceful_shutdown=1,
        )  # fmt: skip
        self._server = uvicorn.Server(config)
        task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        try:
            yield self
        finally:
            self._release.set()
            for session in self._sessions.values():  # waiting long polls answer at once
                session.events.put_nowait(None)
            self._server.should_exit = True
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(task, 5)

    # --- HTTP ------------------------------------------------------------------------------------
    async def _app(
        self,
        scope: dict[str, Any],
        receive: Callable[[], Awaitable[dict[str, Any]]],
        send: Callable[[dict[str, Any]], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        service = scope["path"].rstrip("/").rpartition("/")[2]
        status, answer = await self._answer(service, body)
        if answer is None:  # silent: the connection closes without a word
            return
        headers = [(b"content-type", b"text/xml; charset=utf-8")]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": answer})

    async def _answer(self, service: str, body: bytes) -> tuple[int, bytes | None]:
        root = etree.fromstring(body)
        request = next(iter(root.find(f"{{{SOAP}}}Body")))
        operation = _local(request)
        assert etree.QName(request).namespace == SERVICE_NS[service], (service, operation)
        self.requests.append((time.monotonic(), operation))
        fields = _fields(request)
        if operation == "loginEx":
            return 200, self._login(fields)
        session = self._sessions.get(fields.get("sessionId") or fields.get("@sessionId", ""))
        if session is not None and session.silent:
            await self._hang()
            return 200, None
        if session is None:
            return 500, fault("soapenv:Client", "Invalid sessionId")
        if operation == "getNumberedEvent":
            if not session.monitored:  # live, monitoring nothing: no getCallStatus to wait for
                self._current = session
                self._ready.set()
            return await self._poll(session, int(fields["timeout"]))
        reply = self._reply(session, service, operation, fields)
        if isinstance(reply, bytes):
            return 500, reply
        return 200, envelope(operation, service, reply)

    async def _hang(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._release.wait(), 30)

    def _login(self, fields: dict[str, str]) -> bytes:
        self.logins.append(fields)
        self._next_session += 1
        session = Session(str(self._next_session))
        self._sessions[session.id] = session
        self.connections += 1
        return envelope("loginEx", "SessionService", ok(f' sessionId="{session.id}"'))

    def _reply(self, session: Session, service: str, operation: str, f: dict[str, str]) -> Any:
        if operation == "getIcpId":
            return ok(' icpId="1"', "<cc:connectionState>CONNECTED</cc:connectionState>")
        if operation == "getPhoneNumberId":
            dn = f["primeDn"]
            object_id = self._ids.setdefault(dn, str(500 + len(self._ids) + 1))
            return ok(f' objectId="{object_id}"')
        if operation == "registerHAClientCallback":
            self.ha_callback = f["callbackUri"]
            return ok()
        if operation == "monitorObject":
            session.monitored.add(self._device(f["objectId"]))
            return ok()
        if operation == "resetSessionTimer":
            return ok()
        if operation == "logout":
            self._sessions.pop(session.id, None)
            session.events.put_nowait(_DROPPED)  # its waiting long poll ends now
            return ok()
        if operation == "getCallStatus":
            return self._status(session, self._device(f["objectId"]))
        command = self._command(operation, f)
        self.commands.append(command)
        code = self._refusals.get(command["call_id"])
        if code:
            return fault(*_FAULTS.get(code, (f"ns:{_camel(code)}", f"refused: {code}")))
        return ok()

    def _device(self, object_id: str) -> str:
        return next(d for d, o in self._ids.items() if o == object_id)

    def _status(self, session: Session, dn: str) -> str:
        calls = "".join(
            f'<cc:callEvent localCallId={quoteattr(c["call_id"])} objectId="{self._ids[dn]}">'
            f"<cc:callState>{_STATES.get(c['kind'], 'ESTABLISHED')}</cc:callState>"
            + (device_xml("CALLING_DEVICE", c["ani"]) if c.get("ani") else "")
            + "</cc:callEvent>"
            for c in self._snapshot
            if c.get("agent", "1001") == dn
        )
        session.statuses.add(dn)
        if session.statuses >= session.monitored:
            self._current = session
            self._ready.set()
        return ok("", calls) if calls else '<ns:return result="false"><cc:errorDescription>' \
            "No active call</cc:errorDescription></ns:return>"  # fmt: skip

    def _command(self, operation: str, f: dict[str, str]) -> dict[str, Any]:
        """A received request in the contract's words (op, agent, call_id, number, ...)."""
        command = dict.fromkeys(("call_id", "number", "digits", "state", "reason", "group"), "")
        command["agent"] = self._device(f["objectId"])
        command["call_id"] = f.get("localCallId", "")
        command["number"] = f.get("number") or f.get("redirectDn", "")
        command["digits"] = f.get("digits", "")
        if operation in _CALL_OPS:
            return {"op": _CALL_OPS[operation], **command}
        if operation == "setDeviceDND":
            return {
                **command,
                "op": "set_state",
                "state": "dnd" if f["dndState"] == "true" else "ready",
            }
        if operation.startswith("advSetACDAgentMakeBusy"):
            busy = f["busyState"] == "true"
            names = {str(v): k for k, v in BUSY_CODES.items()}
            reason = names.get(f.get("busyCode", ""), f.get("busyCode", ""))
            return {**command, "op": "set_state", "state": "busy" if busy else "ready",
                    "reason": reason if busy else ""}  # fmt: skip
        if operation == "advSetACDAgentPresence":
            op = "acd_login" if f["presenceValue"] == "true" else "acd_logout"
            return {**command, "op": op, "group": f["groupDn"]}
        if operation == "advCancelACDWorkTimer":
            return {**command, "op": "cancel_work"}
        if operation == "advLoginACDAgent":
            return {**command, "op": "login", "number": command["agent"], "agent": f["agentDn"]}
        if operation == "advLogoutACDAgent":
            return {**command, "op": "logout"}
        return {**command, "op": operation}

    async def _poll(self, session: Session, timeout_ms: int) -> tuple[int, bytes | None]:
        try:
            item = await asyncio.wait_for(session.events.get(), timeout_ms / 1000)
        except TimeoutError:
            item = None
        if session.silent:
            await self._hang()
            return 200, None
        if item is _DROPPED:
            return 500, fault("soapenv:Client", "Invalid sessionId")
        if item is None:
            body = '<ns:return result="false"><cc:errorDescription>Timeout no event message ' \
                "available.</cc:errorDescription></ns:return>"  # fmt: skip
            return 200, envelope("getNumberedEvent", "StandardCCService", body)
        if isinstance(item, bytes):
            return 200, item
        return 200, envelope("getNumberedEvent", "StandardCCService", item)

    # --- the contract's controls -------------------------------------------------------------
    async def connected(self) -> Session:
        await asyncio.wait_for(self._ready.wait(), 10)
        assert self._current is not None
        return self._current

    async def push(self, inner: str, *, raw: bytes | None = None) -> int:
        """One numbered event (`inner`: what goes in `return` after eventType) for the poll."""
        session = await self.connected()
        session.counter += 1
        if raw is not None:
            session.events.put_nowait(raw)
        else:
            kind = "CALL_EVENT" if "callEvent" in inner[:40] else "FEATURE_EVENT"
            if "systemEvent" in inner[:40] or "newServerIPAddress" in inner:
                kind = "SYSTEM_EVENT"
            head = f'<ns:return result="true" eventNumber="{session.counter}">'
            session.events.put_nowait(
                f"{head}<cc:eventType>{kind}</cc:eventType>{inner}</ns:return>"
            )
        return session.counter

    def call_event_xml(self, kind: str, call_id: str, agent: str = "1001", **fields: Any) -> str:
        oig_type = _TYPES.get(kind, kind)
        outbound = fields.get("direction") == "outbound" or kind == "originated"
        ani = agent if outbound else fields.get("ani", "")
        parts = [f"<cc:type>{oig_type}</cc:type>"]
        if fields.get("cause") or fields.get("reason") == "consultation":
            parts.append(f"<cc:cause>{fields.get('cause') or 'CONS_HOLD'}</cc:cause>")
        if fields.get("global_call_id"):
            parts.append(
                "<cc:callEventAttribute><cc:attributeName>CURRENT_GLOBAL_CALL_ID</cc:attributeName>"
                f"<cc:attributeValue>{escape(fields['global_call_id'])}</cc:attributeValue>"
                "</cc:callEventAttribute>"
            )
        if ani:
            parts.append(device_xml("CALLING_DEVICE", ani))
        if fields.get("dnis"):
            parts.append(device_xml("CALLED_DEVICE", fields["dnis"]))
        if fields.get("queue"):
            parts.append(device_xml("ACD_AGENT_GROUP_DEVICE", fields["queue"]))
        object_id = self._ids.get(agent, "0")
        return (
            f'<cc:callEvent localCallId={quoteattr(call_id)} objectId="{object_id}" '
            f'callEventTime="{int(time.time() * 1000)}">{"".join(parts)}</cc:callEvent>'
        )

    async def emit(self, kind: str, call_id: str, agent: str = "1001", **fields: Any) -> None:
        if agent not in (await self.connected()).monitored:
            return  # a gateway says nothing about a device this session does not monitor
        await self.push(self.call_event_xml(kind, call_id, agent, **fields))

    async def emit_feature(self, kind: str, agent: str = "1001", **attributes: str) -> None:
        items = "".join(
            f"<cc:featureEventAttribute><cc:attributeName>{k}</cc:attributeName>"
            f"<cc:attributeValue>{escape(v)}</cc:attributeValue></cc:featureEventAttribute>"
            for k, v in attributes.items()
        )
        object_id = self._ids.get(agent, "0")
        inner = f'<cc:featureEvent objectId="{object_id}"><cc:eventType>{kind}</cc:eventType>'
        await self.push(f"{inner}{items}</cc:featureEvent>")

    async def play(self, name: str) -> int:
        """Push every event of the transcript fixture `name` (devices named by `dn`); how many."""
        transcript = etree.parse(str(FIXTURES / f"{name}.xml"))
        events = [e for e in transcript.getroot() if isinstance(e.tag, str)]
        for event in events:
            for element in event.iter():
                dn = element.attrib.pop("dn", None)
                if dn is not None:
                    element.set("objectId", self._ids[dn])
            inner = "".join(
                etree.tostring(e, encoding="unicode") for e in event if isinstance(e.tag, str)
            )
            await self.push(inner)
        return len(events)

    def skip_numbers(self, count: int) -> None:
        """Lose `count` events: the next event's number jumps past them."""
        assert self._current is not None
        self._current.counter += count

    async def announce_partner(self, address: str) -> None:
        """The HA pair switched over: tell the registered callback where the session now is."""
        body = (
            f'<?xml version="1.0"?><s:Envelope xmlns:s="{SOAP}"><s:Body>'
            '<h:sessionHAEvent xmlns:h="http://mitel.com/oig/session/SessionHAEventHandler">'
            '<h:event><x:newServerIPAddress xmlns:x="http://mitel.com/oig/session">'
            f"{escape(address)}</x:newServerIPAddress></h:event></h:sessionHAEvent>"
            "</s:Body></s:Envelope>"
        )
        async with httpx.AsyncClient() as client:
            response = await client.post(self.ha_callback, content=body.encode())
        response.raise_for_status()

    def set_snapshot(self, calls: list[dict[str, Any]]) -> None:
        self._snapshot = calls

    def refuse(self, call_id: str, code: str) -> None:
        self._refusals[call_id] = code

    async def drop(self) -> None:
        session = await self.connected()
        self._ready.clear()
        self._current = None
        self._sessions.pop(session.id, None)
        session.events.put_nowait(_DROPPED)

    async def restart(self) -> None:
        """The gateway restarts: the session is gone (the link's next poll is refused and it
        logs in again), every call is forgotten, and call ids used before may come again."""
        self._snapshot = []
        await self.drop()

    def silence(self) -> None:
        if self._current is not None:
            self._current.silent = True
        self._ready.clear()
        self._current = None

    async def send_garbage(self, call_id: str) -> None:
        broken = envelope("getNumberedEvent", "StandardCCService", "")
        cut = broken.replace(
            b"</ns:getNumberedEventResponse>",
            b'<ns:return result="true"><cc:callEvent localCallId="'
            + call_id.encode()
            + b'" objectId="501"><cc:type>CALL_DELIVERED</cc:ty',
        )
        await self.push("", raw=cut)


def _camel(code: str) -> str:
    head, *rest = code.split("_")
    return head + "".join(word.title() for word in rest)


PEER = OigPeer
