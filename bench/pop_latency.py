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
from dataclasses import dataclass
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
        self.sockets = sockets
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


@dataclass
class Target:
    """One server under measurement: its sockets' inbox and how to ring through it."""

    inbox: Inbox
    place: Callable[[str, str, int], Awaitable[tuple[str, Callable[[], float]]]]
    arrived: Callable[[dict[str, Any], str], bool]
    after: Callable[[str], Awaitable[None]]

    async def ring(self, agent: str, ani: str, i: int) -> float:
        """Milliseconds from the ring (timestamped where it happens) to the pop on the socket."""
        call_id, rang_at = await self.place(agent, ani, i)
        while True:
            at, message = await asyncio.wait_for(self.inbox.queues[agent].get(), 10)
            if self.arrived(message, call_id):
                break
        await self.after(call_id)
        return (at - rang_at()) * 1000


async def _measure(
    proxy: Target, floor: Target, calls: int, caller: Caller
) -> tuple[list[float], list[float]]:
    """Proxy and floor rung in turn, call by call, so both meet the same moments of a shared
    machine's load and the ratio between them is not a matter of which ran when."""
    agents = list(proxy.inbox.queues)
    proxy_samples: list[float] = []
    floor_samples: list[float] = []
    for i in range(calls):
        agent = agents[i % len(agents)]
        proxy_samples.append(await proxy.ring(agent, caller(i), i))
        floor_samples.append(await floor.ring(agent, caller(i), i))
    return proxy_samples, floor_samples


async def _proxy_target(
    http: httpx.AsyncClient, base_url: str, app: Any, agents: list[str]
) -> Target:
    tokens = {}
    for agent in agents:
        r = await http.post(
            f"{base_url}/api/v1/sessions", json={"address": agent, "password": "demo"}
        )
        tokens[agent] = r.raise_for_status().json()["token"]
    ws_url = base_url.replace("http", "ws", 1) + "/ws/agent"
    sockets = {
        a: await websockets.connect(ws_url, subprotocols=["softphone.v2", f"auth.{t}"])  # type: ignore[list-item]
        for a, t in tokens.items()
    }
    for ws in sockets.values():
        await ws.recv()  # welcome
    pbx = app.state.services.pbx
    identities = app.state.services.identities

    async def place(agent: str, ani: str, i: int) -> tuple[str, Callable[[], float]]:
        r = await http.post(f"{base_url}/sim/calls", json={"agent": agent, "ani": ani})
        call_id = str(r.raise_for_status().json()["call_id"])
        call = pbx.legs[call_id]
        return call_id, lambda: float(call.rang_at)

    def popped(message: dict[str, Any], pbx_id: str) -> bool:
        # Pages see the proxy's own call ids; the simulator's is read back from it.
        call = message.get("call", {})
        found = identities.pbx_call(call.get("call_id", ""))
        return bool(found and found[1] == pbx_id and call.get("matching") is False)

    async def hang_up(call_id: str) -> None:
        await http.post(f"{base_url}/sim/calls/{call_id}/hangup")

    return Target(Inbox(sockets), place, popped, hang_up)


async def _relay_target(http: httpx.AsyncClient, base_url: str, agents: list[str]) -> Target:
    ws_base = base_url.replace("http", "ws", 1)
    sockets = {a: await websockets.connect(f"{ws_base}/ws/{a}") for a in agents}

    async def place(agent: str, ani: str, i: int) -> tuple[str, Callable[[], float]]:
        call_id = f"r{i}-{time.perf_counter_ns()}"
        body = {"call_id": call_id, "ani": ani, "pop": {"kind": "record"}}
        response = await http.post(f"{base_url}/relay/{agent}", json=body)
        received_at = float(response.raise_for_status().json()["received_at"])
        return call_id, lambda: received_at

    def arrived(message: dict[str, Any], call_id: str) -> bool:
        return bool(message.get("call_id") == call_id)

    async def nothing(call_id: str) -> None:
        return None

    return Target(Inbox(sockets), place, arrived, nothing)


Row = tuple[list[float], list[float], float]  # proxy, floor (same moments), API calls per call


async def _run_both(
    base_url: str, app: Any, relay_url: str, agents: list[str], calls: int
) -> dict[str, Row]:
    async with httpx.AsyncClient() as http:
        proxy = await _proxy_target(http, base_url, app, agents)
        floor = await _relay_target(http, relay_url, agents)
        org = app.state.services.org

        async def row(caller: Caller, offset: int = 0) -> Row:
            await asyncio.sleep(0.1)
            proxy.inbox.drain()
            floor.inbox.drain()
            before = org.api_calls

            def shifted(i: int) -> str:
                return caller(i + offset)

            samples, floor_samples = await _measure(proxy, floor, calls, shifted)
            return samples, floor_samples, (org.api_calls - before) / calls

        # Warm-up: connection pools, and one SOSL per repeat caller so later ones hit the cache.
        await _measure(proxy, floor, len(CALLERS), repeat_caller)
        results = {"repeat": await row(repeat_caller), "new": await row(new_caller)}
        org.latency_seconds = 0.050  # Salesforce answering after 50 ms, as across a WAN
        results["new, 50 ms org"] = await row(new_caller, offset=calls)
        org.latency_seconds = 0.0
        for target in (proxy, floor):
            await target.inbox.close()
            for ws in target.inbox.sockets.values():
                await ws.close()
        return results


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
    relay_url, relay_server, relay_thread = _serve_relay()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            database_url = f"sqlite+aiosqlite:///{Path(tmp)}/bench.db"
            addresses = asyncio.run(_seed_agents(database_url, agents))
            settings = Settings(demo=True, database_url=database_url)
            with serving_in_thread(settings) as (base_url, app, _loop):
                while not app.state.services.link.connected:
                    time.sleep(0.02)
                results = asyncio.run(_run_both(base_url, app, relay_url, addresses, calls))
    finally:
        relay_server.should_exit = True
        relay_thread.join(10)

    print(
        f"pop latency: simulator ring -> pop on the agent socket; {agents} agents signed in, "
        f"{calls} calls per row, after a warm-up round; each proxy call followed by one through "
        f"the floor relay (same hops, no logic), so both meet the same load"
    )
    print(f"  {'':<34} {'p50':>9} {'p99':>10} {'mean':>10}   API calls   floor p50 / p99")
    names = {
        "repeat": "proxy, repeat callers (cached)",
        "new": "proxy, new callers",
        "new, 50 ms org": "proxy, new callers, org at 50 ms",
    }
    for key, (samples, floor, per_call) in results.items():
        p50, p99 = percentile(samples, 50), percentile(samples, 99)
        print(
            f"  {names[key]:<34} {p50:6.2f} ms {p99:7.2f} ms "
            f"{statistics.fmean(samples):7.2f} ms   {per_call:9.2f}   "
            f"{percentile(floor, 50):.2f} / {percentile(floor, 99):.2f} ms"
        )
    for key in ("repeat", "new"):
        samples, floor, _ = results[key]
        print(
            f"  ratio to floor, {key + ' callers':<18} p50 "
            f"{percentile(samples, 50) / percentile(floor, 50):6.2f} x   p99 "
            f"{percentile(samples, 99) / percentile(floor, 99):6.2f} x"
        )
    slow, floor, _ = results["new, 50 ms org"]
    over = percentile(slow, 99) - 50
    print(
        f"  with the org at 50 ms: p99 {percentile(slow, 99):.2f} ms = one round trip "
        f"+ {over:.2f} ms ({over / percentile(floor, 99):.2f} x the floor's p99)"
    )
