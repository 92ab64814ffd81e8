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
from softphone.events import CallEvent

Script = Callable[[ServerConnection], Awaitable[None]]


def event_frame(call_id: str, kind: str = "delivered", agent: str = "1001") -> str:
    return json.dumps(
        {
            "type": "event",
            "event": {"kind": kind, "call_id": call_id, "agent": agent, "ani": "+16504508810"},
        }
    )


async def greet(ws: ServerConnection) -> dict[str, Any]:
    """The bridge side of the opening: hello, then the proxy's monitor request."""
    await ws.send(json.dumps({"type": "hello", "v": 1, "pbx": "test peer"}))
    monitor: dict[str, Any] = json.loads(await ws.recv())
    return monitor


@asynccontextmanager
async def bridge_peer(script: Script) -> AsyncIterator[str]:
    async def handler(ws: ServerConnection) -> None:
        await script(ws)

    async with serve(handler, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"bridge+ws://127.0.0.1:{port}/bridge"


async def take(link: BridgeLink, n: int) -> list[CallEvent]:
    events: list[CallEvent] = []
    async for event in link.events():
        events.append(event)
        if len(events) == n:
            break
    return events


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
