"""What every CTI link must do, written once and run against each link's own wire peer."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve

from proxy.errors import LinkCommandFailed, LinkUnavailable
from proxy.links import CtiLink, LinkCommand, open_link
from softphone.events import CallEvent, Snapshot
from tests.integration.links.link_peers import PEERS, Peer, next_of


@pytest.fixture(params=sorted(PEERS))
async def peer(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    instance = PEERS[request.param]()
    async with instance.running() as running:
        yield running


@pytest.fixture
async def link(peer: Peer) -> AsyncIterator[CtiLink]:
    async with open_link(peer.url, self_url="") as opened:
        yield opened


async def test_events_arrive_in_order(peer: Peer, link: CtiLink) -> None:
    """Call events reach the proxy in the order the PBX sent them."""
    await next_of(link, Snapshot)
    for kind in ("delivered", "established", "held", "retrieved", "cleared"):
        await peer.emit(kind, "c1", ani="+16504508810")
    kinds = [(await next_of(link, CallEvent)).kind for _ in range(5)]
    assert kinds == ["delivered", "established", "held", "retrieved", "cleared"]


async def test_every_connect_brings_a_snapshot(peer: Peer, link: CtiLink) -> None:
    """After a drop the link reconnects by itself and reports the PBX's calls again."""
    peer.set_snapshot([{"kind": "established", "call_id": "c1", "agent": "1001"}])
    first = await next_of(link, Snapshot)
    assert [c.call_id for c in first.calls] == ["c1"]
    peer.set_snapshot([])
    await peer.drop()
    second = await next_of(link, Snapshot)
    assert second.calls == () and peer.connections == 2


async def test_commands_succeed_or_fail_with_the_pbx_code(peer: Peer, link: CtiLink) -> None:
    """A command the PBX accepts returns; one it refuses raises with the PBX's code."""
    await next_of(link, Snapshot)
    await link.send(LinkCommand(op="hold", agent="1001", call_id="good"))
    peer.refuse("bad", "no_such_call")
    with pytest.raises(LinkCommandFailed) as refused:
        await link.send(LinkCommand(op="hold", agent="1001", call_id="bad"))
    assert refused.value.code == "no_such_call"
    assert [c["op"] for c in peer.commands] == ["hold", "hold"]


async def test_commands_carry_numbers_digits_and_states(peer: Peer, link: CtiLink) -> None:
    """Every field a command needs reaches the PBX."""
    await next_of(link, Snapshot)
    await link.send(LinkCommand(op="consult", agent="1001", call_id="c1", number="916505550132"))
    await link.send(LinkCommand(op="dtmf", agent="1001", call_id="c1", digits="12#"))
    await link.send(LinkCommand(op="set_state", agent="1001", state="busy", reason="Lunch"))
    sent = [(c["op"], c.get("number"), c.get("digits"), c.get("reason")) for c in peer.commands]
    assert sent == [
        ("consult", "916505550132", "", ""),
        ("dtmf", "", "12#", ""),
        ("set_state", "", "", "Lunch"),
    ]


async def test_silent_peer_is_dropped_and_reconnected(peer: Peer, link: CtiLink) -> None:
    """Heartbeat loss: a peer that goes silent is given up and connected to again."""
    await next_of(link, Snapshot)
    peer.silence()
    await next_of(link, Snapshot, timeout=6)
    assert peer.connections == 2


async def test_garbage_is_logged_with_call_id_and_skipped(
    peer: Peer, link: CtiLink, caplog: pytest.LogCaptureFixture
) -> None:
    """Malformed input is logged with its call id and skipped; the next event still arrives."""
    caplog.set_level(logging.ERROR)
    await next_of(link, Snapshot)
    await peer.send_garbage("c66")
    await peer.emit("delivered", "c67")
    assert (await next_of(link, CallEvent)).call_id == "c67"
    assert any("c66" in r.getMessage() for r in caplog.records)


async def test_no_peer_means_commands_fail_fast() -> None:
    """With nothing to talk to, a command raises LinkUnavailable at once."""
    async with open_link("bridge+ws://127.0.0.1:9/bridge", self_url="") as link:
        with pytest.raises(LinkUnavailable):
            await link.send(LinkCommand(op="hangup", call_id="x", agent="1001"))


async def test_flapping_peer_gets_backoff_not_a_busy_loop() -> None:
    """A bridge that hangs up right after hello is retried with backoff, not hammered."""
    connections = 0

    async def flap(ws: ServerConnection) -> None:
        nonlocal connections
        connections += 1
        await ws.send('{"type": "hello", "v": 2}')
        await ws.close()

    async with serve(flap, "127.0.0.1", 0) as a, serve(flap, "127.0.0.1", 0) as b:
        urls = [f"bridge+ws://127.0.0.1:{next(iter(s.sockets)).getsockname()[1]}/" for s in (a, b)]
        async with open_link(",".join(urls), self_url=""):
            await asyncio.sleep(2.0)
    assert 2 <= connections < 40
