"""Pop latency: from the simulator ringing an agent to the pop arriving on the agent's socket.

The same clients and the same measurement run against a bare relay (no logic) with the proxy's
hops, a websocket link in and a websocket out (`bench.relay`), to give the floor that loopback,
HTTP and websockets alone cost on this machine.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import uvicorn
import websockets
from websockets.asyncio.client import ClientConnection

from bench.relay import relay_server
from proxy.agents.auth import hash_password
from proxy.app import DEMO_PASSWORD
from proxy.server import bind, url_of
from proxy.settings import Settings
from proxy.store import AgentRecord
from proxy.store.sql import SqlStore
from tests.harness import serving_in_thread

# Callers the demo org knows, with different stored formats, and numbers nobody knows.
CALLERS = [
    "+16504508810",
    "+16504508811",
    "+16504508812",
    "+16504508813",
    "+14155550131",
    "+442079460958",
    "+14085550201",
    "+13035550161",
    "+14155559999",
    "+12125550000",
]


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def _seed_agents(database_url: str, count: int) -> list[str]:
    password_hash = hash_password(DEMO_PASSWORD)
    addresses = [str(2000 + i) for i in range(count)]
    async with SqlStore(database_url) as store:
        for address in addresses:
            await store.put_agent(
                AgentRecord(address, f"Bench {address}", address, "acd", password_hash)
            )
    return addresses


Caller = Callable[[int], str]


def repeat_caller(i: int) -> str:
    return CALLERS[i % len(CALLERS)]


def new_caller(i: int) -> str:
    return f"+1628555{i:04d}"  # never seen before: one SOSL request each


class Inbox:
    """Every message of every socket with the moment it arrived, read as soon as it comes.

    Reading in the background matters: the HTTP request that places a call can take longer
    than the pop itself, and the pop must be timed when it lands, not when we look.
    """

    def __init__(self, sockets: dict[str, ClientConnection]) -> None:
        self.queues: dict[str, asyncio.Queue[tuple[float, dict[str, Any]]]] = {
            agent: asyncio.Queue() for agent in sockets
        }
        self.tasks = [asyncio.create_task(self._read(a, ws)) for a, ws in sockets.items()]

    async def _read(self, agent: str, ws: ClientConnection) -> None:
        async for raw in ws:
            self.queues[agent].put_nowait((time.perf_counter(), json.loads(raw)))

    def drain(self) -> None:
        for queue in self.queues.values():
            while not queue.empty():
                queue.get_nowait()

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


async def _measure(
    inbox: Inbox,
    calls: int,
    caller: Caller,
    place: Callable[[str, str, int], Awaitable[tuple[str, Callable[[], float]]]],
    arrived: Callable[[dict[str, Any], str], bool],
    after: Callable[[str], Awaitable[None]],
) -> list[float]:
    """Milliseconds from the ring (timestamped where it happens) to the pop on the socket."""
    agents = list(inbox.queues)
    samples: list[float] = []
    for i in range(calls):
        agent = agents[i % len(agents)]
        call_id, rang_at = await place(agent, caller(i), i)
        while True:
            at, message = await asyncio.wait_for(inbox.queues[agent].get(), 10)
            if arrived(message, call_id):
                break
        samples.append((at - rang_at()) * 1000)
        await after(call_id)
    return samples


async def _proxy_run(
    base_url: str, app: Any, agents: list[str], calls: int
) -> dict[str, tuple[list[float], float]]:
    async with httpx.AsyncClient(base_url=base_url) as http:
        tokens = {}
        for agent in agents:
            r = await http.post("/api/v1/sessions", json={"address": agent, "password": "demo"})
            tokens[agent] = r.raise_for_status().json()["token"]
        ws_url = base_url.replace("http", "ws", 1) + "/ws/agent"
        sockets = {
            a: await websockets.connect(ws_url, subprotocols=["softphone.v2", f"auth.{t}"])  # type: ignore[list-item]
            for a, t in tokens.items()
        }
        for ws in sockets.values():
            await ws.recv()  # welcome
        inbox = Inbox(sockets)

        pbx = app.state.services.pbx

        async def place(agent: str, ani: str, i: int) -> tuple[str, Callable[[], float]]:
            r = await http.post("/sim/calls", json={"agent": agent, "ani": ani})
            call_id = str(r.raise_for_status().json()["call_id"])
            call = pbx.legs[call_id]
            return call_id, lambda: float(call.rang_at)

        identities = app.state.services.identities

        def popped(message: dict[str, Any], pbx_id: str) -> bool:
            # Pages see the proxy's own call ids; the simulator's is read back from it.
            call = message.get("call", {})
            found = identities.pbx_call(call.get("call_id", ""))
            return bool(found and found[1] == pbx_id and call.get("matching") is False)

        async def hang_up(call_id: str) -> None:
            await http.post(f"/sim/calls/{call_id}/hangup")

        org = app.state.services.org

        async def row(caller: Caller, offset: int = 0) -> tuple[list[float], float]:
            """Latencies, and Salesforce API calls per inbound call, for one row."""
            await asyncio.sleep(0.1)
            inbox.drain()
            before = org.api_calls

            def shifted(i: int) -> str:
                return caller(i + offset)

            samples = await _measure(inbox, calls, shifted, place, popped, hang_up)
            return samples, (org.api_calls - before) / calls

        # Warm-up: connection pools, and one SOSL per repeat caller so later ones hit the cache.
        await _measure(inbox, len(CALLERS), repeat_caller, place, popped, hang_up)
        results = {"repeat": await row(repeat_caller), "new": await row(new_caller)}
        org.latency_seconds = 0.050  # Salesforce answering after 50 ms, as across a WAN
        results["new, 50 ms org"] = await row(new_caller, offset=calls)
        org.latency_seconds = 0.0
        await inbox.close()
        for ws in sockets.values():
            await ws.close()
        return results


async def _relay_run(base_url: str, agents: list[str], calls: int) -> list[float]:
    async with httpx.AsyncClient(base_url=base_url) as http:
        ws_base = base_url.replace("http", "ws", 1)
        sockets = {a: await websockets.connect(f"{ws_base}/ws/{a}") for a in agents}
        inbox = Inbox(sockets)

        async def place(agent: str, ani: str, i: int) -> tuple[str, Callable[[], float]]:
            call_id = f"r{i}"
            body = {"call_id": call_id, "ani": ani, "pop": {"kind": "record"}}
            response = (await http.post(f"/relay/{agent}", json=body)).raise_for_status()
            received_at = float(response.json()["received_at"])
            return call_id, lambda: received_at

        def arrived(message: dict[str, Any], call_id: str) -> bool:
            return bool(message.get("call_id") == call_id)

        async def nothing(call_id: str) -> None:
            return None

        await _measure(inbox, len(CALLERS), repeat_caller, place, arrived, nothing)
        samples = await _measure(inbox, calls, repeat_caller, place, arrived, nothing)
        await inbox.close()
        for ws in sockets.values():
            await ws.close()
        return samples


def _serve_relay() -> tuple[str, uvicorn.Server, threading.Thread]:
    sock = bind("127.0.0.1", 0)
    url = url_of(sock, tls=False)
    server = relay_server(sock, url)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started or httpx.get(f"{url}/readyz").status_code != 200:
        time.sleep(0.02)
    return url, server, thread


def run(agents: int = 100, calls: int = 300) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        database_url = f"sqlite+aiosqlite:///{Path(tmp)}/bench.db"
        addresses = asyncio.run(_seed_agents(database_url, agents))
        settings = Settings(demo=True, database_url=database_url)
        with serving_in_thread(settings) as (base_url, app, _loop):
            while not app.state.services.link.connected:
                time.sleep(0.02)
            proxy = asyncio.run(_proxy_run(base_url, app, addresses, calls))
    relay_url, relay_server, relay_thread = _serve_relay()
    try:
        floor = asyncio.run(_relay_run(relay_url, addresses, calls))
    finally:
        relay_server.should_exit = True
        relay_thread.join(10)

    print(
        f"pop latency: simulator ring -> pop on the agent socket; {agents} agents signed in, "
        f"{calls} calls per row, after a warm-up round"
    )
    rows = [
        ("proxy, repeat callers (cached)", *proxy["repeat"]),
        ("proxy, new callers", *proxy["new"]),
        ("proxy, new callers, org at 50 ms", *proxy["new, 50 ms org"]),
        ("bare relay, same hops (floor)", floor, 0.0),
    ]
    print(f"  {'':<34} {'p50':>9} {'p99':>10} {'mean':>10}   API calls per call")
    for name, samples, per_call in rows:
        print(
            f"  {name:<34} {percentile(samples, 50):6.2f} ms {percentile(samples, 99):7.2f} ms "
            f"{statistics.fmean(samples):7.2f} ms   {per_call:.2f}"
        )
    for name, samples, _ in rows[:2]:
        print(
            f"  ratio to floor, {name.removeprefix('proxy, '):<18} p50 "
            f"{percentile(samples, 50) / percentile(floor, 50):6.2f} x   p99 "
            f"{percentile(samples, 99) / percentile(floor, 99):6.2f} x"
        )
    slow = proxy["new, 50 ms org"][0]
    over = percentile(slow, 99) - 50
    print(
        f"  with the org at 50 ms: p99 {percentile(slow, 99):.2f} ms = one round trip "
        f"+ {over:.2f} ms ({over / percentile(floor, 99):.2f} x the floor's p99)"
    )
