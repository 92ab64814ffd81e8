"""The bridge link against a scripted bridge peer on loopback: frames, commands, reconnects."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve

from proxy.errors import LinkCommandFailed, LinkUnavailable
from proxy.links import LinkCommand, open_link
from proxy.links.bridge import BridgeLink
from softphone.events import CallEvent, Snapshot

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


async def take_snapshot(link: BridgeLink) -> Snapshot:
    async for event in link.events():
        if isinstance(event, Snapshot):
            return event
    raise AssertionError("link closed before a snapshot")


async def test_link_monitors_and_delivers_events_in_order() -> None:
    """After hello the link asks to monitor, then yields the bridge's call events in order."""
    seen: list[dict[str, Any]] = []

    async def script(ws: ServerConnection) -> None:
        seen.append(await greet(ws))
        await ws.send(event_frame("c1"))
        await ws.send(event_frame("c1", "established"))
        await ws.wait_closed()

    async with bridge_peer(script) as url, open_link(url, self_url="") as link:
        assert isinstance(link, BridgeLink)
        events = await asyncio.wait_for(take(link, 2), 5)
    assert [(e.call_id, e.kind) for e in events] == [("c1", "delivered"), ("c1", "established")]
    assert seen[0]["type"] == "monitor"


async def test_malformed_frame_is_logged_with_call_id_and_skipped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A frame that breaks the schema is logged with its call id; the next frame still arrives."""
    caplog.set_level(logging.ERROR, logger="proxy.links.bridge")

    async def script(ws: ServerConnection) -> None:
        await greet(ws)
        await ws.send('{"type": "event", "event": {"kind": "exploded", "call_id": "c9"}}')
        await ws.send("not json at all")
        await ws.send(event_frame("c10"))
        await ws.wait_closed()

    async with bridge_peer(script) as url, open_link(url, self_url="") as link:
        assert isinstance(link, BridgeLink)
        (event,) = await asyncio.wait_for(take(link, 1), 5)
    assert event.call_id == "c10"
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("bridge frame skipped [call_id=c9]") for m in messages)
    assert any(m.startswith("bridge frame skipped [call_id=-]") for m in messages)


async def test_link_reconnects_and_monitors_again_after_a_drop() -> None:
    """When the bridge drops the connection the link comes back by itself and re-monitors."""
    connections = 0

    async def script(ws: ServerConnection) -> None:
        nonlocal connections
        connections += 1
        await greet(ws)
        await ws.send(event_frame(f"c{connections}"))
        if connections == 1:
            await ws.close()
            return
        await ws.wait_closed()

    async with bridge_peer(script) as url, open_link(url, self_url="") as link:
        assert isinstance(link, BridgeLink)
        events = await asyncio.wait_for(take(link, 2), 10)
    assert [e.call_id for e in events] == ["c1", "c2"]
    assert connections == 2 and link.reconnects >= 1


async def test_command_result_and_refusal_come_back_to_the_caller() -> None:
    """A command resolves when the bridge says ok and raises with the bridge's code when not."""

    async def script(ws: ServerConnection) -> None:
        await greet(ws)
        async for raw in ws:
            frame = json.loads(raw)
            if frame["type"] != "command":
                continue
            ok = frame["call_id"] == "good"
            reply = {"type": "result", "req_id": frame["req_id"], "ok": ok}
            if not ok:
                reply |= {"code": "no_such_call", "message": "no call bad"}
            await ws.send(json.dumps(reply))

    async with bridge_peer(script) as url, open_link(url, self_url="") as link:
        assert isinstance(link, BridgeLink)
        while not link.connected:
            await asyncio.sleep(0.01)
        await link.send(LinkCommand(op="answer", call_id="good", agent="1001"))
        with pytest.raises(LinkCommandFailed) as refused:
            await link.send(LinkCommand(op="answer", call_id="bad", agent="1001"))
    assert refused.value.code == "no_such_call"


async def test_command_while_disconnected_fails_fast() -> None:
    """With no bridge to talk to, a command raises LinkUnavailable instead of hanging."""
    async with open_link("bridge+ws://127.0.0.1:9/bridge", self_url="") as link:
        with pytest.raises(LinkUnavailable):
            await link.send(LinkCommand(op="hangup", call_id="x", agent="1001"))


async def test_snapshot_follows_every_connect() -> None:
    """After connecting the link asks for a snapshot and hands it on, calls included."""
    ringing = json.loads(event_frame("c7"))["event"]

    async def script(ws: ServerConnection) -> None:
        await greet(ws, calls=[ringing])
        await ws.wait_closed()

    async with bridge_peer(script) as url, open_link(url, self_url="") as link:
        assert isinstance(link, BridgeLink)
        snapshot = await asyncio.wait_for(take_snapshot(link), 5)
    assert [c.call_id for c in snapshot.calls] == ["c7"]


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
