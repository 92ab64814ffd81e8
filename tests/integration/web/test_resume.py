"""A page that reloads or reconnects gets the current calls and any pop it still owes."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from tests.harness import RunningProxy, next_message, running_proxy, wait_for_call
from tests.integration.links.link_peers import BridgePeer


async def test_reload_while_ringing_shows_call_and_owed_pop(proxy: RunningProxy) -> None:
    """A page opened after the pop was decided still gets the call and the pop in its snapshot."""
    token = proxy.sign_in()
    async with proxy.connect(token) as ws:
        await next_message(ws)
        call_id = proxy.place_call(ani="+16504508810")
        await wait_for_call(ws, call_id, matching=False)
    # The page reloads: a new socket with the same session.
    async with proxy.connect(token) as ws:
        welcome = await next_message(ws)
        assert welcome["type"] == "welcome"
        (call,) = welcome["calls"]
        assert call["call_id"] == call_id and call["state"] == "ringing"
        assert call["pop"]["matches"][0]["name"] == "Maria Chen"
        assert call["pop_delivered"] is False


async def test_popped_ack_stops_the_pop_for_later_pages(proxy: RunningProxy) -> None:
    """Once a page reports the pop opened, other tabs and reloads see it as delivered."""
    token = proxy.sign_in()
    async with proxy.connect(token) as ws, proxy.connect(token) as other_tab:
        await next_message(ws)
        await next_message(other_tab)
        call_id = proxy.place_call(ani="+16504508810")
        await wait_for_call(ws, call_id, matching=False)
        await ws.send(json.dumps({"type": "popped", "call_id": call_id}))
        update = await wait_for_call(other_tab, call_id, pop_delivered=True)
        assert update["call"]["state"] == "ringing"
    async with proxy.connect(token) as ws:
        welcome = await next_message(ws)
        assert welcome["calls"][0]["pop_delivered"] is True


async def test_hello_returns_a_fresh_snapshot(proxy: RunningProxy) -> None:
    """A page that noticed a gap asks again with hello and gets the calls and the latest seq."""
    async with proxy.connect(proxy.sign_in()) as ws:
        await next_message(ws)
        call_id = proxy.place_call(ani="+16504508810")
        last = await wait_for_call(ws, call_id, matching=False)
        await ws.send(json.dumps({"type": "hello", "last_seq": 0}))
        before = [last["seq"]]  # the call's log may still be on its way, ahead of the welcome
        while (welcome := await next_message(ws))["type"] != "welcome":
            before.append(welcome["seq"])
        assert welcome["seq"] == max(before)
        assert [c["call_id"] for c in welcome["calls"]] == [call_id]


async def test_one_lookup_per_ringing_call(tmp_path: Path) -> None:
    """Updates to a call that is still being looked up start no second lookup or pop."""
    peer = BridgePeer()
    async with peer.running():
        # The peer runs on this loop, so the proxy must start without blocking it.
        starting = running_proxy(tmp_path, cti_url=peer.url)
        proxy = await asyncio.to_thread(starting.__enter__)
        try:
            assert proxy.services.org is not None
            proxy.services.org.latency_seconds = 0.3
            async with proxy.connect(proxy.sign_in()) as ws:
                await next_message(ws)
                before = proxy.api_calls
                await peer.emit("delivered", "c1", ani="+16504508810")
                await peer.emit("delivered", "c1", ani="+16504508810", parties=[{"number": "x"}])
                await asyncio.sleep(1.0)
                pops = []
                while True:
                    try:
                        message = await next_message(ws, 0.2)
                    except TimeoutError:
                        break
                    if message["type"] == "call" and message["call"]["pop"] is not None:
                        pops.append(message)
        finally:
            await asyncio.to_thread(starting.__exit__, None, None, None)
    assert len(pops) == 1
    assert proxy.api_calls - before == 1
