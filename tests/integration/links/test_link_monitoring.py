"""Every link monitors the devices it is told (the roster's), not only its URL's `devices=`:
at start, and while it runs, adding and removing devices on the live connection."""

from __future__ import annotations

import asyncio
import logging
import re
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI

from proxy.links import CtiLink, open_link
from proxy.simulator.api import create_simulator_app
from proxy.simulator.pbx import SimulatedPbx
from softphone.events import CallEvent, Snapshot
from tests.integration.links.link_peers import PEERS, Peer, next_of


def without_devices(url: str) -> str:
    """The peer's address with its `devices=` option taken out."""
    return re.sub(r"devices=[^&]*&?", "", url).rstrip("?&")


def with_extra(url: str) -> str:
    """The peer's address listing 1001 in `devices=` (an Asterisk device is `PJSIP/1001`)."""
    if "devices=" in url:
        return url  # the CSTA and OIG peers list 1001 and 1002 already
    device = "PJSIP/1001" if url.startswith("ami:") else "1001"
    return f"{url}{'&' if '?' in url else '?'}devices={device}"


@pytest.fixture(params=sorted(PEERS))
async def peer(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    instance = PEERS[request.param]()
    async with instance.running() as running:
        yield running


async def ring(peer: Peer, link: CtiLink, call_id: str, device: str) -> CallEvent:
    """Ring `device` at the PBX and return the next call event the link reports."""
    await peer.emit("delivered", call_id, device, ani="6505550100")
    event: CallEvent = await next_of(link, CallEvent)
    return event


async def test_a_link_without_devices_monitors_the_devices_it_is_told(peer: Peer) -> None:
    """No `devices=` in the URL, told {2201} before it starts: a ring at 2201 is delivered."""
    link = open_link(without_devices(peer.url), self_url="")
    await link.monitor(frozenset({"2201"}))
    async with link:
        await next_of(link, Snapshot)
        event = await ring(peer, link, "c1", "2201")
    assert (event.kind, event.call_id, event.agent) == ("delivered", "c1", "2201")


async def test_devices_added_and_removed_while_the_link_runs(peer: Peer) -> None:
    """A device added while connected gets its calls; a removed one gets none (the next event
    is the remaining device's, rung after it)."""
    async with open_link(without_devices(peer.url), self_url="") as link:
        await link.monitor(frozenset({"2201"}))
        await next_of(link, Snapshot)
        assert (await ring(peer, link, "c1", "2201")).agent == "2201"
        await link.monitor(frozenset({"2201", "2202"}))
        await next_of(link, Snapshot)  # the new device's calls, resynced
        assert (await ring(peer, link, "c2", "2202")).agent == "2202"
        await link.monitor(frozenset({"2202"}))
        await next_of(link, Snapshot)
        await peer.emit("delivered", "c3", "2201", ani="6505550100")
        after = await ring(peer, link, "c4", "2202")
    assert (after.call_id, after.agent) == ("c4", "2202")
    assert "2201" not in link.devices


async def test_the_url_devices_stay_as_extras(peer: Peer) -> None:
    """`devices=` from the URL are monitored beside the roster's devices, whatever it says."""
    async with open_link(with_extra(peer.url), self_url="") as link:
        await link.monitor(frozenset({"2201"}))
        await next_of(link, Snapshot)
        assert (await ring(peer, link, "c1", "1001")).agent == "1001"
        assert (await ring(peer, link, "c2", "2201")).agent == "2201"


async def test_an_empty_roster_monitors_nothing_and_says_so_once(
    peer: Peer, caplog: pytest.LogCaptureFixture
) -> None:
    """Told an empty set with no `devices=`, a link monitors nothing, and logs it once."""
    caplog.set_level(logging.WARNING)
    async with open_link(without_devices(peer.url), self_url="") as link:
        for _ in range(3):  # the roster is polled: the same empty answer comes again and again
            await link.monitor(frozenset())
        await next_of(link, Snapshot)
        assert link.watched == frozenset()
    said = [r for r in caplog.records if "monitors no devices" in r.getMessage()]
    assert len(said) == 1


# --- the built-in simulator --------------------------------------------------------------------
@pytest.fixture
async def simulator() -> AsyncIterator[tuple[SimulatedPbx, str]]:
    """The simulator's bridges served on loopback, as the proxy serves them under /sim."""
    pbx = SimulatedPbx()
    for device in ("2201", "2202"):
        pbx.add_agent(device)
    app = FastAPI()
    app.mount("/sim", create_simulator_app(pbx))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield pbx, f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 5)


async def test_the_simulator_link_follows_its_devices(
    simulator: tuple[SimulatedPbx, str],
) -> None:
    """sim:// told {2201} rings 2201; 2202 added later rings; 2201 removed rings no more."""
    pbx, self_url = simulator
    link = open_link("sim://", self_url=self_url)
    await link.monitor(frozenset({"2201"}))
    async with link:
        await next_of(link, Snapshot)
        first = pbx.place_inbound("2201", "6505550100")
        assert (await next_of(link, CallEvent)).call_id == first.call_id
        await link.monitor(frozenset({"2201", "2202"}))
        await next_of(link, Snapshot)
        second = pbx.place_inbound("2202", "6505550101")
        assert (await next_of(link, CallEvent)).call_id == second.call_id
        await link.monitor(frozenset({"2202"}))
        await next_of(link, Snapshot)
        pbx.place_inbound("2201", "6505550102")
        third = pbx.place_inbound("2202", "6505550103")
        event = await next_of(link, CallEvent)
    assert (event.call_id, event.agent) == (third.call_id, "2202")
