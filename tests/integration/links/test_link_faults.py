"""The proxy survives losing its CTI link: drops, a dead primary, a stalled bridge, bad frames."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

import httpx
import pytest

from tests.harness import RunningProxy, next_message, wait_for_call


def fault(proxy: RunningProxy, fault: str, bridge: str = "primary") -> None:
    response = httpx.post(f"{proxy.base_url}/sim/faults", json={"bridge": bridge, "fault": fault})
    response.raise_for_status()


async def collect(ws: Any, seconds: float) -> list[dict[str, Any]]:
    """Every message the page gets in the next `seconds`."""
    seen = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            seen.append(await next_message(ws, left))
        except TimeoutError:
            break
    return seen


async def wait_connected(proxy: RunningProxy, url_end: str, seconds: float = 5) -> float:
    start = time.monotonic()
    link = proxy.services.link
    while not (link.connected and link.active_url.endswith(url_end)):
        assert time.monotonic() - start < seconds, "link did not come back"
        await asyncio.sleep(0.02)
    return time.monotonic() - start


async def test_drop_mid_call_rebuilds_without_duplicates(proxy: RunningProxy) -> None:
    """The link drops during a call and comes back: the page sees no repeated or ghost event,
    and a call that ended while the link was down is cleared."""
    async with proxy.connect(proxy.sign_in()) as ws:
        await next_message(ws)
        active = proxy.place_call(ani="+16504508810")
        await wait_for_call(ws, active, matching=False)
        await ws.send(json.dumps({"type": "answer", "call_id": active}))
        await wait_for_call(ws, active, state="active")
        ended = proxy.place_call(ani="+16504508811")
        await wait_for_call(ws, ended, matching=False)
        fault(proxy, "down")
        fault(proxy, "down", "standby")
        await asyncio.sleep(0.2)
        assert proxy.services.pbx is not None
        proxy.services.pbx.hangup(
            proxy.pbx_call_id(ended), "far_end"
        )  # the PBX event is lost with the link
        fault(proxy, "up")
        fault(proxy, "up", "standby")
        await wait_connected(proxy, "")
        seen = [m for m in await collect(ws, 1.0) if m["type"] == "call"]
    assert [(m["call"]["call_id"], m["call"]["state"]) for m in seen] == [(ended, "cleared")]
    assert seen[0]["call"]["reason"] == "gone"
    assert list(proxy.services.states.machine("1001").calls) == [active]


async def test_primary_killed_standby_serves_and_call_survives(proxy: RunningProxy) -> None:
    """The primary dies mid-call: the standby serves within 3 s, the call goes on."""
    async with proxy.connect(proxy.sign_in()) as ws:
        await next_message(ws)
        call_id = proxy.place_call(ani="+16504508810")
        await wait_for_call(ws, call_id, matching=False)
        await ws.send(json.dumps({"type": "answer", "call_id": call_id}))
        await wait_for_call(ws, call_id, state="active")
        fault(proxy, "down")
        took = await wait_connected(proxy, "/sim/bridge-standby")
        assert took < 3.0
        await ws.send(json.dumps({"type": "hold", "call_id": call_id}))
        held = await wait_for_call(ws, call_id, state="held")
    assert held["call"]["ani"] == "+16504508810"
    assert proxy.services.link.active_url.endswith("/sim/bridge-standby")


async def test_stalled_primary_is_abandoned_within_three_seconds(proxy: RunningProxy) -> None:
    """A primary that goes silent (no heartbeats) is left for the standby in under 3 s."""
    async with proxy.connect(proxy.sign_in()) as ws:
        await next_message(ws)
        fault(proxy, "stall")
        took = await wait_connected(proxy, "/sim/bridge-standby")
        call_id = proxy.place_call(ani="+16504508810")
        await wait_for_call(ws, call_id, state="ringing")
    fault(proxy, "resume")
    assert took < 3.0


async def test_malformed_frame_is_logged_skipped_and_others_go_on(
    proxy: RunningProxy, caplog: pytest.LogCaptureFixture
) -> None:
    """A frame that breaks the schema is logged and skipped; the next call still rings."""
    caplog.set_level(logging.ERROR, logger="proxy.links.bridge")
    async with proxy.connect(proxy.sign_in("1002")) as ws:
        await next_message(ws)
        fault(proxy, "malformed")
        call_id = proxy.place_call(agent="1002", ani="+16504508810")
        await wait_for_call(ws, call_id, state="ringing")
    assert any("bridge frame skipped" in r.getMessage() for r in caplog.records)
    assert proxy.services.link.connected


async def test_command_while_the_pbx_is_unreachable_says_so(proxy: RunningProxy) -> None:
    """With both bridges down a command gets a plain error instead of hanging."""
    async with proxy.connect(proxy.sign_in()) as ws:
        await next_message(ws)
        call_id = proxy.place_call(ani="+16504508810")
        await wait_for_call(ws, call_id, matching=False)
        fault(proxy, "down")
        fault(proxy, "down", "standby")
        await asyncio.sleep(0.3)
        await ws.send(json.dumps({"type": "answer", "call_id": call_id}))
        while (error := await next_message(ws))["type"] != "error":
            pass
    assert error["code"] == "link_unavailable"


async def test_restarted_bridge_is_reconnected_and_calls_kept(proxy: RunningProxy) -> None:
    """A bridge restart (down for a second) loses no call: the proxy resyncs from its snapshot."""
    async with proxy.connect(proxy.sign_in()) as ws:
        await next_message(ws)
        call_id = proxy.place_call(ani="+16504508810")
        await wait_for_call(ws, call_id, matching=False)
        fault(proxy, "down", "standby")
        fault(proxy, "restart")
        await asyncio.sleep(0.2)
        await wait_connected(proxy, "/sim/bridge")
        fault(proxy, "up", "standby")
        seen = [m for m in await collect(ws, 0.5) if m["type"] == "call"]
    assert seen == []  # nothing changed, so the page hears nothing
    assert list(proxy.services.states.machine("1001").calls) == [call_id]
