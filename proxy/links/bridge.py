"""The bridge link: the proxy as a client of the JSON-over-WebSocket bridge protocol.

It keeps itself connected: heartbeats both ways, and after 2.5 s of silence the connection is
taken for dead. A list of addresses is a primary and its standby: a lost primary fails over
to the standby at once (within 3 s of the last frame), and the link moves back when told
(`prefer(0)`) or when the standby fails. After every connect it monitors its agents and asks
for a snapshot, from which the switchboard rebuilds calls and clears the ones that are gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import random
import time
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import websockets
from websockets.asyncio.client import ClientConnection

from proxy.errors import LinkCommandFailed, LinkUnavailable
from proxy.links.base import LinkCommand
from proxy.resource import Resource
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
from softphone.errors import ProtocolError
from softphone.events import LinkEvent, Snapshot

log = logging.getLogger(__name__)

# Two and a half heartbeats of silence and the connection is dead: failover stays under 3 s.
STALE_SECONDS = 2.5 * HEARTBEAT_SECONDS
COMMAND_TIMEOUT_SECONDS = 5.0
BACKOFF_FIRST, BACKOFF_CAP = 0.05, 5.0
MAX_FRAME_BYTES = 4 * 1024 * 1024
_CLOSED = object()


class BridgeLink(Resource):
    """A `CtiLink` to one bridge, or to a primary and standby pair (`ws_urls`, in that order)."""

    def __init__(self, ws_urls: list[str]) -> None:
        super().__init__()
        if not ws_urls:
            raise ValueError("a bridge link needs at least one address")
        self.ws_urls = ws_urls
        self._index = 0
        self._events: asyncio.Queue[LinkEvent | object] = asyncio.Queue()
        self._ws: ClientConnection | None = None
        self._pending: dict[int, asyncio.Future[BridgeResult]] = {}
        self._req_ids = itertools.count(1)
        self._task: asyncio.Task[None] | None = None
        self._switch = asyncio.Event()
        self.reconnects = 0
        self.failovers = 0
        self.connected_at = 0.0

    @property
    def connected(self) -> bool:
        return self._ws is not None

    @property
    def active_url(self) -> str:
        return self.ws_urls[self._index]

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"bridge-link {self.ws_urls[0]}")

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._events.put_nowait(_CLOSED)

    def prefer(self, index: int) -> None:
        """Move to address `index` now (0: back to the primary), dropping the current one."""
        if index != self._index:
            self._index = index % len(self.ws_urls)
            self._switch.set()

    async def events(self) -> AsyncIterator[LinkEvent]:
        while True:
            item = await self._events.get()
            if item is _CLOSED:
                return
            yield item  # type: ignore[misc]

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

    async def _run(self) -> None:
        delay = BACKOFF_FIRST
        tried = 0
        while True:
            url = self.active_url
            self.connected_at = 0.0
            self._switch.clear()  # a move asked for before this connect is this connect
            try:
                # close_timeout: a peer that has gone silent will not answer our close either.
                async with websockets.connect(
                    url,
                    max_size=MAX_FRAME_BYTES,
                    ping_interval=None,
                    open_timeout=2,
                    close_timeout=0.5,
                ) as ws:
                    await self._session(ws, url)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure means: another address, or wait and retry
                level = logging.WARNING if tried == 0 else logging.INFO
                log.log(level, "bridge link %s: %s", url, str(exc) or type(exc).__name__)
            finally:
                self._fail_pending()
            if self._switch.is_set():  # told to move (prefer): go there now
                self._switch.clear()
                tried = 0
                continue
            self.reconnects += 1
            was_connected = self.connected_at > 0
            # Working means it lasted: a bridge that drops right after hello is flapping, and
            # flapping gets backoff, not an endless fast loop.
            lasted = was_connected and time.monotonic() - self.connected_at >= STALE_SECONDS
            if len(self.ws_urls) > 1:
                self._index = (self._index + 1) % len(self.ws_urls)
                if was_connected:  # the other address gets its chance at once
                    self.failovers += 1
                    log.warning("bridge link failing over to %s", self.active_url)
            if lasted:
                tried, delay = 0, BACKOFF_FIRST
                continue
            tried += 1
            if tried < len(self.ws_urls):
                continue
            tried = 0
            with contextlib.suppress(TimeoutError):  # a prefer() during the wait goes at once
                await asyncio.wait_for(self._switch.wait(), delay * random.uniform(0.5, 1.0))
            delay = min(delay * 2, BACKOFF_CAP)

    async def _session(self, ws: ClientConnection, url: str) -> None:
        first = parse_from_bridge(await asyncio.wait_for(ws.recv(), STALE_SECONDS))
        if not isinstance(first, BridgeHello) or first.v != BRIDGE_VERSION:
            raise ProtocolError(f"bridge must start with hello v{BRIDGE_VERSION}, got {first!r}")
        await ws.send(Monitor(type="monitor", req_id=next(self._req_ids)).model_dump_json())
        await ws.send(
            GetSnapshot(type="get_snapshot", req_id=next(self._req_ids)).model_dump_json()
        )
        self._ws = ws
        self.connected_at = time.monotonic()
        log.info("bridge link connected to %s (%s)", url, first.pbx or "unnamed PBX")
        heartbeat = asyncio.create_task(self._heartbeat(ws))
        reader = asyncio.create_task(self._read(ws))
        switch = asyncio.create_task(self._switch.wait())
        try:
            done, _ = await asyncio.wait({reader, switch}, return_when=asyncio.FIRST_COMPLETED)
            if reader in done:
                reader.result()  # re-raise why the connection ended
        finally:
            self._ws = None
            for task in (heartbeat, reader, switch):
                task.cancel()
            for task in (heartbeat, reader, switch):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def _read(self, ws: ClientConnection) -> None:
        while True:
            try:
                raw = await asyncio.wait_for(ws.recv(), STALE_SECONDS)
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
                self._events.put_nowait(frame.event)
            elif isinstance(frame, BridgeAgent):
                self._events.put_nowait(frame.agent)
            elif isinstance(frame, BridgeSnapshot):
                self._events.put_nowait(Snapshot(calls=frame.calls, agents=frame.agents))
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

    def _fail_pending(self) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(LinkUnavailable("The phone system connection was lost"))
        self._pending.clear()


def _call_id_of(raw: str | bytes) -> str:
    """The call id of a frame we could not parse, when it has one, for the log line."""
    try:
        data = json.loads(raw)
        return str(data.get("event", {}).get("call_id", "-"))
    except (ValueError, AttributeError):
        return "-"


def _ws_url(url: str) -> str:
    parts = urlsplit(url.strip())
    return urlunsplit(parts._replace(scheme=parts.scheme.removeprefix("bridge+")))


def open_bridge_link(url: str, *, self_url: str) -> BridgeLink:
    """`bridge+ws://host:port/path` (or wss), or `primary,standby`: bridges beside the PBX."""
    return BridgeLink([_ws_url(u) for u in url.split(",") if u.strip()])


def open_simulator_link(url: str, *, self_url: str) -> BridgeLink:
    """`sim://`: the built-in simulator served by this proxy, its primary and standby bridge."""
    parts = urlsplit(self_url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return BridgeLink(
        [
            urlunsplit((scheme, parts.netloc, "/sim/bridge", "", "")),
            urlunsplit((scheme, parts.netloc, "/sim/bridge-standby", "", "")),
        ]
    )
