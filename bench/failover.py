"""Failover time: from the primary bridge going down to the first event served by the standby."""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import websockets

from proxy.settings import Settings
from softphone.identities import Identities
from tests.harness import serving_in_thread


async def _one(
    base_url: str,
    http: httpx.AsyncClient,
    ws: websockets.ClientConnection,
    down: str,
    up: str,
    identities: Identities,
) -> float:
    await http.post("/sim/faults", json={"bridge": up, "fault": "up"})
    start = time.perf_counter()
    await http.post("/sim/faults", json={"bridge": down, "fault": "down"})
    response = await http.post("/sim/calls", json={"agent": "1001", "ani": ""})
    call_id = response.json()["call_id"]
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), 10))
        # Pages see the proxy's own call ids; the simulator's is read back from it.
        seen = message.get("call", {}).get("call_id", "") if message.get("type") == "call" else ""
        found = identities.pbx_call(seen) if seen else None
        if found is not None and found[1] == call_id:
            took = time.perf_counter() - start
            break
    await http.post(f"/sim/calls/{call_id}/hangup")
    return took


def run(rounds: int = 6) -> None:
    async def main(base_url: str, identities: Identities) -> list[float]:
        async with httpx.AsyncClient(base_url=base_url) as http:
            r = await http.post("/api/v1/sessions", json={"address": "1001", "password": "demo"})
            token = r.json()["token"]
            ws_url = base_url.replace("http", "ws", 1) + "/ws/agent"
            async with websockets.connect(
                ws_url, subprotocols=["softphone.v2", f"auth.{token}"]
            ) as ws:  # type: ignore[list-item]
                await ws.recv()
                times = []
                for i in range(rounds):
                    down, up = ("primary", "standby") if i % 2 == 0 else ("standby", "primary")
                    times.append(await _one(base_url, http, ws, down, up, identities))
                    await asyncio.sleep(0.3)
                return times

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(demo=True, database_url=f"sqlite+aiosqlite:///{Path(tmp)}/f.db")
        with serving_in_thread(settings) as (base_url, app, _loop):
            while not app.state.services.link.connected:
                time.sleep(0.02)
            times = asyncio.run(main(base_url, app.state.services.identities))
    print(
        f"failover: bridge down -> first event served by the other bridge, {rounds} rounds "
        f"(alternating primary/standby)"
    )
    print(
        f"  median {statistics.median(times) * 1000:.0f} ms   max {max(times) * 1000:.0f} ms   "
        f"(a silent bridge is given up after 2.5 s on top of this)"
    )
