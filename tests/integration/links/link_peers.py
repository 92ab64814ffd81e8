"""Protocol-level peers for link contract tests: a fake PBX side per link implementation.

Each peer speaks its link's own wire format on loopback and is driven the same way by the
contract tests: emit an event, report a snapshot, answer or refuse commands, drop or go silent,
send garbage. The CSTA, OIG and AMI links add their own peers here and inherit every test.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import pkgutil
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Protocol

from websockets.asyncio.server import ServerConnection, serve

from proxy.links import CtiLink
from softphone.events import CallEvent


async def next_of(link: CtiLink, kind: type, timeout: float = 8.0) -> Any:
    """The link's next event of type `kind` (a Snapshot, a CallEvent...)."""

    async def find() -> Any:
        async for event in link.events():
            if isinstance(event, kind):
                return event
        raise AssertionError("link closed")

    return await asyncio.wait_for(find(), timeout)


async def calls(link: CtiLink, n: int) -> list[CallEvent]:
    """The link's next `n` call events."""
    return [await next_of(link, CallEvent) for _ in range(n)]


class Peer(Protocol):
    url: str  # the SOFTPHONE_CTI_URL that reaches this peer
    commands: list[dict[str, Any]]  # every command received, in order
    connections: int

    async def emit(self, kind: str, call_id: str, agent: str = "1001", **fields: Any) -> None: ...

    def set_snapshot(self, calls: list[dict[str, Any]]) -> None: ...

    def refuse(self, call_id: str, code: str) -> None:
        """Answer commands on `call_id` with an error `code`."""
        ...

    async def drop(self) -> None: ...

    async def restart(self) -> None:
        """The PBX restarts: the connection drops, every call is forgotten (the link's next
        snapshot is empty), and call ids used before may come again."""
        ...

    def silence(self) -> None:
        """Stay connected but send nothing at all, heartbeats included."""
        ...

    async def send_garbage(self, call_id: str) -> None:
        """A frame that breaks the wire format, mentioning `call_id` where it can."""
        ...


class BridgePeer:
    """The PBX side of the bridge protocol (version 2): events only for the devices the last
    `monitor` named (all when it named none), and none before a `monitor`."""

    def __init__(self) -> None:
        self.url = ""
        self.commands: list[dict[str, Any]] = []
        self.connections = 0
        self._snapshot: list[dict[str, Any]] = []
        self._refusals: dict[str, str] = {}
        self._current: ServerConnection | None = None
        self._silent = False
        self._ready = asyncio.Event()
        self.monitored: set[str] | None = None  # None: no monitor on this connection yet

    @asynccontextmanager
    async def running(self) -> AsyncIterator[BridgePeer]:
        async with serve(self._handler, "127.0.0.1", 0) as server:
            port = next(iter(server.sockets)).getsockname()[1]
            self.url = f"bridge+ws://127.0.0.1:{port}/bridge"
            yield self

    async def _handler(self, ws: ServerConnection) -> None:
        self.connections += 1
        self._silent = False
        self.monitored = None
        await ws.send(json.dumps({"type": "hello", "v": 2, "pbx": "contract peer"}))
        heartbeat = asyncio.create_task(self._heartbeat(ws))
        try:
            async for raw in ws:
                frame = json.loads(raw)
                if frame["type"] == "monitor":
                    self.monitored = set(frame.get("agents", []))
                    await ws.send(
                        json.dumps({"type": "result", "req_id": frame["req_id"], "ok": True})
                    )
                elif frame["type"] == "get_snapshot":
                    snapshot = {
                        "type": "snapshot",
                        "req_id": frame["req_id"],
                        "calls": self._snapshot,
                    }
                    await ws.send(json.dumps(snapshot))
                    self._current = ws
                    self._ready.set()
                elif frame["type"] == "command":
                    self.commands.append(frame)
                    code = self._refusals.get(frame.get("call_id", ""))
                    reply = {"type": "result", "req_id": frame["req_id"], "ok": code is None}
                    if code:
                        reply |= {"code": code, "message": f"refused: {code}"}
                    if not self._silent:
                        await ws.send(json.dumps(reply))
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
            if self._current is ws:
                self._current = None
                self._ready.clear()

    async def _heartbeat(self, ws: ServerConnection) -> None:
        while True:
            await asyncio.sleep(1.0)
            if not self._silent:
                await ws.send(json.dumps({"type": "heartbeat", "ts": 0}))

    async def connected(self) -> ServerConnection:
        await asyncio.wait_for(self._ready.wait(), 10)
        assert self._current is not None
        return self._current

    async def emit(self, kind: str, call_id: str, agent: str = "1001", **fields: Any) -> None:
        event = {"kind": kind, "call_id": call_id, "agent": agent, **fields}
        ws = await self.connected()
        if self.monitored is None or (self.monitored and agent not in self.monitored):
            return  # a bridge sends only what it was asked to monitor
        await ws.send(json.dumps({"type": "event", "event": event}))

    def set_snapshot(self, calls: list[dict[str, Any]]) -> None:
        self._snapshot = calls

    def refuse(self, call_id: str, code: str) -> None:
        self._refusals[call_id] = code

    async def drop(self) -> None:
        await (await self.connected()).close()

    async def restart(self) -> None:
        self._snapshot = []
        ws = await self.connected()
        self._ready.clear()  # events wait for the link's next connection
        self._current = None
        await ws.close()

    def silence(self) -> None:
        self._silent = True

    async def send_garbage(self, call_id: str) -> None:
        frame = {"type": "event", "event": {"kind": "exploded", "call_id": call_id}}
        await (await self.connected()).send(json.dumps(frame))


def _collect() -> dict[str, Callable[[], Peer]]:
    from tests.integration.links import peers

    found: dict[str, Callable[[], Peer]] = {"bridge": BridgePeer}
    for info in pkgutil.iter_modules(peers.__path__):
        module = importlib.import_module(f"{peers.__name__}.{info.name}")
        found[module.NAME] = module.PEER
    return found


PEERS = _collect()
