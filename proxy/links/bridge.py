"""The bridge link: the proxy as a client of the JSON-over-WebSocket bridge protocol.

It keeps itself connected: heartbeats both ways, and after 2.5 s of silence the connection is
taken for dead. A list of addresses is a primary and its standby: a lost primary fails over
to the standby at once (within 3 s of the last frame), and the link moves back when told
(`prefer(0)`) or when the standby fails. After every connect it monitors its devices and asks
for a snapshot, from which the switchboard rebuilds calls and clears the ones that are gone.

The devices are the roster's extensions (`monitor()`) and the URL's optional `devices=` extras;
a roster change sends a new `monitor` (it replaces the list) and a snapshot on the live
connection. A link never handed a roster and given no extras monitors everything, as bridge
protocol v2 defines an empty list; one whose roster is empty sends no `monitor` at all.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import re
import ssl
import time
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import websockets
from websockets.asyncio.client import ClientConnection

from proxy.errors import LinkCommandFailed, LinkUnavailable
from proxy.links.base import LinkCommand, split_urls
from proxy.links.session import ReconnectingLink
from softphone.bridge import (
    BRIDGE_VERSION,
    HEARTBEAT_SECONDS,
    BridgeAgent,
    BridgeError,
    BridgeEvent,
    BridgeHello,
    BridgeResult,
    BridgeSnapshot,
    Command,
    GetSnapshot,
    Heartbeat,
    Monitor,
    parse_from_bridge,
)
from softphone.capabilities import EVERYTHING, LinkCapabilities
from softphone.devices import with_numbers
from softphone.errors import ProtocolError
from softphone.events import Snapshot

log = logging.getLogger(__name__)

# Two and a half heartbeats of silence and the connection is dead: failover stays under 3 s.
STALE_SECONDS = 2.5 * HEARTBEAT_SECONDS
COMMAND_TIMEOUT_SECONDS = 5.0
MAX_FRAME_BYTES = 4 * 1024 * 1024


class BridgeLink(ReconnectingLink):
    """A `CtiLink` to one bridge, or to a primary and standby pair (`ws_urls`, in that order)."""

    kind = "bridge link"
    stable_seconds = STALE_SECONDS

    def __init__(
        self,
        ws_urls: list[str],
        ssl_context: ssl.SSLContext | None = None,
        extras: frozenset[str] = frozenset(),
    ) -> None:
        super().__init__(ws_urls)
        self.extras = extras
        self.ws_urls = ws_urls
        self.ssl_context = ssl_context
        self._ws: ClientConnection | None = None
        self._req_ids = itertools.count(1)

    @property
    def capabilities(self) -> LinkCapabilities:
        # The bridge protocol carries every command, and the simulator does them all; a
        # bridge whose PBX cannot answers `not_supported` (the hello does not say what it can).
        return EVERYTHING

    async def send(self, command: LinkCommand) -> str:
        ws = self._ws
        if ws is None:
            raise LinkUnavailable("The phone system is not connected; try again in a moment")
        frame = Command(
            type="command",
            req_id=next(self._req_ids),
            op=command.op,
            agent=command.agent,
            call_id=command.call_id,
            number=command.number,
            digits=command.digits,
            state=command.state,
            reason=command.reason,
            group=command.group,
        )
        result = await self._request(ws, frame.req_id, frame.model_dump_json())
        if not result.ok:
            raise LinkCommandFailed(result.code or "refused", result.message or "refused by PBX")
        return result.call_id

    async def _monitor_live(self) -> None:
        ws = self._ws
        if ws is None:
            return
        if not self.devices:  # v2 reads an empty list as "all": start again, monitoring none
            self._reconnect()
            return
        frame = Monitor(
            type="monitor", req_id=next(self._req_ids), agents=tuple(sorted(self.devices))
        )
        result = await self._request(ws, frame.req_id, frame.model_dump_json())
        if not result.ok:
            log.error("bridge refused monitor: %s %s", result.code, result.message)
        # A new device may already be ringing: a full snapshot brings its calls in.
        await ws.send(
            GetSnapshot(type="get_snapshot", req_id=next(self._req_ids)).model_dump_json()
        )

    async def _request(self, ws: ClientConnection, req_id: int, text: str) -> BridgeResult:
        future: asyncio.Future[BridgeResult] = asyncio.get_running_loop().create_future()
        self._pending[req_id] = future
        try:
            await ws.send(text)
            return await asyncio.wait_for(future, COMMAND_TIMEOUT_SECONDS)
        except (TimeoutError, websockets.ConnectionClosed):
            raise LinkUnavailable("The phone system did not answer; try again") from None
        finally:
            self._pending.pop(req_id, None)

    async def _serve(self, url: str) -> None:
        # close_timeout: a peer that has gone silent will not answer our close either.
        secure = url.startswith("wss:")
        async with websockets.connect(
            url,
            max_size=MAX_FRAME_BYTES,
            ping_interval=None,
            open_timeout=2,
            close_timeout=0.5,
            ssl=(self.ssl_context or True) if secure else None,
        ) as ws:
            await self._session(ws, url)

    async def _session(self, ws: ClientConnection, url: str) -> None:
        # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation that
        # lands as its awaitable completes, and aclose() would then wait forever.
        async with asyncio.timeout(STALE_SECONDS):
            first = parse_from_bridge(await ws.recv())
        if not isinstance(first, BridgeHello) or first.v != BRIDGE_VERSION:
            raise ProtocolError(f"bridge must start with hello v{BRIDGE_VERSION}, got {first!r}")
        async with self.monitoring:  # a roster change waits until this monitor is out
            if self.roster is None or self.devices:
                agents = tuple(sorted(self.devices))
                frame = Monitor(type="monitor", req_id=next(self._req_ids), agents=agents)
                await ws.send(frame.model_dump_json())
            await ws.send(
                GetSnapshot(type="get_snapshot", req_id=next(self._req_ids)).model_dump_json()
            )
            self._ws = ws
            self._connected(url, first.pbx or "unnamed PBX")
        try:
            await self._until_switch(
                asyncio.create_task(self._read(ws)), asyncio.create_task(self._heartbeat(ws))
            )
        finally:
            self._ws = None

    async def _read(self, ws: ClientConnection) -> None:
        while True:
            try:
                async with asyncio.timeout(STALE_SECONDS):
                    raw = await ws.recv()
            except TimeoutError:
                # Silent for too long: drop the connection now rather than wait for a close
                # handshake the peer will not answer, so the standby takes over within 3 s.
                ws.transport.abort()
                raise
            try:
                frame = parse_from_bridge(raw)
            except ProtocolError as exc:
                log.error("bridge frame skipped [call_id=%s]: %s", _call_id_of(raw), exc)
                continue
            if isinstance(frame, BridgeEvent):
                self.emit(with_numbers(frame.event))
            elif isinstance(frame, BridgeAgent):
                self.emit(frame.agent)
            elif isinstance(frame, BridgeSnapshot):
                numbered = tuple(with_numbers(c) for c in frame.calls)
                self.emit(Snapshot(calls=numbered, agents=frame.agents))
            elif isinstance(frame, BridgeResult):
                future = self._pending.get(frame.req_id)
                if future is not None and not future.done():
                    future.set_result(frame)
            elif isinstance(frame, BridgeError):
                log.error("bridge reports %s: %s", frame.code, frame.message)

    async def _heartbeat(self, ws: ClientConnection) -> None:
        while True:
            await ws.send(Heartbeat(type="heartbeat", ts=time.time()).model_dump_json())
            await asyncio.sleep(HEARTBEAT_SECONDS)


def _call_id_of(raw: str | bytes) -> str:
    """The call id of a frame we could not parse, when it has one, for the log line."""
    try:
        data = json.loads(raw)
        return str(data.get("event", {}).get("call_id", "-"))
    except (ValueError, AttributeError):
        return "-"


def _ws_url(url: str) -> tuple[str, list[str]]:
    """The WebSocket address, without our `devices=` option, and the devices it lists."""
    parts = urlsplit(url.strip())
    query = parse_qsl(parts.query, keep_blank_values=True)
    devices = [d for k, v in query if k == "devices" for d in re.split(r"[\s,;+]+", v) if d]
    rest = urlencode([(k, v) for k, v in query if k != "devices"])
    ws = urlunsplit(parts._replace(scheme=parts.scheme.removeprefix("bridge+"), query=rest))
    return ws, devices


def open_bridge_link(url: str, *, self_url: str) -> BridgeLink:
    """`bridge+ws://host:port/path[?devices=…]` (or wss), or `primary,standby`: bridges beside
    the PBX. `devices` lists extra devices to monitor beyond the roster's (`;` or `+`)."""
    found = [_ws_url(u) for u in split_urls(url)]
    extras = frozenset(d for _, devices in found for d in devices)
    return BridgeLink([ws for ws, _ in found], extras=extras)


def open_simulator_link(url: str, *, self_url: str) -> BridgeLink:
    """`sim://`: the built-in simulator served by this proxy, its primary and standby bridge."""
    parts = urlsplit(self_url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    # Over HTTPS the proxy dials itself on loopback; its certificate names the public host,
    # not 127.0.0.1, and this connection never leaves the process's own host.
    own = ssl.create_default_context()
    own.check_hostname = False
    own.verify_mode = ssl.CERT_NONE
    return BridgeLink(
        [
            urlunsplit((scheme, parts.netloc, "/sim/bridge", "", "")),
            urlunsplit((scheme, parts.netloc, "/sim/bridge-standby", "", "")),
        ],
        ssl_context=own if scheme == "wss" else None,
    )
