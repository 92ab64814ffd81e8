"""Bridge-link specifics beyond the link contract: a primary and standby pair."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from websockets.asyncio.server import ServerConnection, serve

from proxy.links import open_link
from proxy.links.bridge import BridgeLink
from softphone.events import CallEvent

Script = Callable[[ServerConnection], Awaitable[None]]


def event_frame(call_id: str, kind: str = "delivered", agent: str = "1001") -> str:
    return json.dumps(
        {
            "type": "event",
            "event": {"kind": kind, "call_id": call_id, "agent": agent, "ani": "+16504508810"},
        }
    )


async def greet(ws: ServerConnection, calls: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The bridge side of the opening: hello, the proxy's monitor, then its snapshot request."""
    await ws.send(json.dumps({"type": "hello", "v": 2, "pbx": "test peer"}))
    monitor: dict[str, Any] = json.loads(await ws.recv())
    request = json.loads(await ws.recv())
    assert request["type"] == "get_snapshot"
    snapshot = {"type": "snapshot", "req_id": request["req_id"], "calls": calls or [], "agents": []}
    await ws.send(json.dumps(snapshot))
    return monitor


@asynccontextmanager
async def bridge_peer(script: Script) -> AsyncIterator[str]:
    async def handler(ws: ServerConnection) -> None:
        await script(ws)

    async with serve(handler, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"bridge+ws://127.0.0.1:{port}/bridge"


async def take(link: BridgeLink, n: int) -> list[CallEvent]:
    """The next `n` call events (snapshots and agent events are skipped here)."""
    events: list[CallEvent] = []
    async for event in link.events():
        if isinstance(event, CallEvent):
            events.append(event)
        if len(events) == n:
            break
    return events


async def test_lost_primary_fails_over_to_standby_at_once() -> None:
    """Primary and standby: when the primary drops, the standby serves the next event."""

    async def primary(ws: ServerConnection) -> None:
        await greet(ws)
        await ws.send(event_frame("p1"))
        await asyncio.sleep(0.2)
        await ws.close()

    async def standby(ws: ServerConnection) -> None:
        await greet(ws)
        await ws.send(event_frame("s1"))
        await ws.wait_closed()

    async with (
        bridge_peer(primary) as first,
        bridge_peer(standby) as second,
        open_link(f"{first},{second}", self_url="") as link,
    ):
        assert isinstance(link, BridgeLink)
        events = await asyncio.wait_for(take(link, 2), 5)
        assert link.active_url == second.removeprefix("bridge+")
        assert link.failovers == 1
    assert [e.call_id for e in events] == ["p1", "s1"]


async def test_silent_bridge_is_abandoned_for_the_standby() -> None:
    """A primary that stops sending heartbeats is given up within 3 s."""

    async def primary(ws: ServerConnection) -> None:
        await greet(ws)
        await ws.wait_closed()  # alive but silent: no heartbeats, no events

    async def standby(ws: ServerConnection) -> None:
        await greet(ws)
        await ws.send(event_frame("s1"))
        await ws.wait_closed()

    async with (
        bridge_peer(primary) as first,
        bridge_peer(standby) as second,
        open_link(f"{first},{second}", self_url="") as link,
    ):
        assert isinstance(link, BridgeLink)
        (event,) = await asyncio.wait_for(take(link, 1), 5)
    assert event.call_id == "s1"
