"""The bridge link: the proxy as a client of the JSON-over-WebSocket bridge protocol.

It stays connected by itself: heartbeats both ways, reconnect with capped exponential backoff
and jitter, and a fresh `monitor` after every reconnect.
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
    BridgeError,
    BridgeEvent,
    BridgeHello,
    BridgeResult,
    Command,
    Heartbeat,
    Monitor,
    parse_from_bridge,
)
from softphone.errors import ProtocolError
from softphone.events import CallEvent

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 2.0
# Three missed heartbeats and the connection is taken for dead.
STALE_SECONDS = 3 * HEARTBEAT_SECONDS
COMMAND_TIMEOUT_SECONDS = 5.0
BACKOFF_FIRST, BACKOFF_CAP = 0.05, 5.0
MAX_FRAME_BYTES = 256 * 1024
_CLOSED = object()


class BridgeLink(Resource):
    """A `CtiLink` to a bridge at `ws_url` (ws:// or wss://)."""

    def __init__(self, ws_url: str) -> None:
        super().__init__()
        self.ws_url = ws_url
        self._events: asyncio.Queue[CallEvent | object] = asyncio.Queue()
        self._ws: ClientConnection | None = None
        self._pending: dict[int, asyncio.Future[BridgeResult]] = {}
        self._req_ids = itertools.count(1)
        self._task: asyncio.Task[None] | None = None
        self.reconnects = 0

    @property
    def connected(self) -> bool:
        return self._ws is not None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"bridge-link {self.ws_url}")

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._events.put_nowait(_CLOSED)

    async def events(self) -> AsyncIterator[CallEvent]:
        while True:
            item = await self._events.get()
            if item is _CLOSED:
                return
            assert isinstance(item, CallEvent)
            yield item

    async def send(self, command: LinkCommand) -> None:
        ws = self._ws
        if ws is None:
            raise LinkUnavailable("The phone system is not connected; try again in a moment")
        req_id = next(self._req_ids)
        future: asyncio.Future[BridgeResult] = asyncio.get_running_loop().create_future()
        self._pending[req_id] = future
        frame = Command(
            type="command",
            req_id=req_id,
            op=command.op,
            call_id=command.call_id,
            agent=command.agent,
        )
        try:
            await ws.send(frame.model_dump_json())
            result = await asyncio.wait_for(future, COMMAND_TIMEOUT_SECONDS)
        except (TimeoutError, websockets.ConnectionClosed):
            raise LinkUnavailable("The phone system did not answer; try again") from None
        finally:
            self._pending.pop(req_id, None)
        if not result.ok:
            raise LinkCommandFailed(result.code or "refused", result.message or "refused by PBX")

    async def _run(self) -> None:
        delay = BACKOFF_FIRST
        while True:
            try:
                async with websockets.connect(
                    self.ws_url, max_size=MAX_FRAME_BYTES, ping_interval=None, open_timeout=5
                ) as ws:
                    await self._session(ws)
                    delay = BACKOFF_FIRST
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure means: wait, then reconnect
                # One warning per outage; the retries that follow are routine.
                level = logging.WARNING if delay == BACKOFF_FIRST else logging.INFO
                log.log(level, "bridge link %s: %s; reconnecting in %.2fs", self.ws_url, exc, delay)
            finally:
                self._fail_pending()
            self.reconnects += 1
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 2, BACKOFF_CAP)

    async def _session(self, ws: ClientConnection) -> None:
        first = parse_from_bridge(await asyncio.wait_for(ws.recv(), STALE_SECONDS))
        if not isinstance(first, BridgeHello) or first.v != BRIDGE_VERSION:
            raise ProtocolError(f"bridge must start with hello v{BRIDGE_VERSION}, got {first!r}")
        await ws.send(Monitor(type="monitor", req_id=next(self._req_ids)).model_dump_json())
        self._ws = ws
        log.info("bridge link connected to %s (%s)", self.ws_url, first.pbx or "unnamed PBX")
        heartbeat = asyncio.create_task(self._heartbeat(ws))
        try:
            await self._read(ws)
        finally:
            self._ws = None
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat

    async def _read(self, ws: ClientConnection) -> None:
        while True:
            raw = await asyncio.wait_for(ws.recv(), STALE_SECONDS)
            try:
                frame = parse_from_bridge(raw)
            except ProtocolError as exc:
                log.error("bridge frame skipped [call_id=%s]: %s", _call_id_of(raw), exc)
                continue
            if isinstance(frame, BridgeEvent):
                self._events.put_nowait(frame.event)
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


def open_bridge_link(url: str, *, self_url: str) -> BridgeLink:
    """`bridge+ws://host:port/path` or `bridge+wss://...`: a bridge beside the PBX."""
    parts = urlsplit(url)
    return BridgeLink(urlunsplit(parts._replace(scheme=parts.scheme.removeprefix("bridge+"))))


def open_simulator_link(url: str, *, self_url: str) -> BridgeLink:
    """`sim://`: the built-in PBX simulator, served by this proxy at /sim/bridge."""
    parts = urlsplit(self_url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return BridgeLink(urlunsplit((scheme, parts.netloc, "/sim/bridge", "", "")))
