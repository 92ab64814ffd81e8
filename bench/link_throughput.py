"""Link events per second: a bridge blasting call events for 1,000 agents, through the proxy's
link, core and bus, to 1,000 agent sockets. Salesforce is left out (`browser://`, no caller
ID) so the figure is the event path itself."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import secrets
import tempfile
import time
from pathlib import Path
from typing import Any

import websockets
from websockets.asyncio.server import ServerConnection, serve

from proxy.settings import Settings
from proxy.store import AgentRecord
from proxy.store.sql import SqlStore
from tests.harness import serving_in_thread

KINDS = ("delivered", "established", "cleared")


async def _seed(database_url: str, agents: int) -> dict[str, str]:
    """Agents with ready-made sessions (argon2 sign-in for 1,000 agents is not what we time)."""
    tokens = {}
    async with SqlStore(database_url) as store:
        for i in range(agents):
            address = str(3000 + i)
            await store.put_agent(AgentRecord(address, f"Agent {address}", address, "acd", "x"))
            token = secrets.token_urlsafe(24)
            digest = hashlib.sha256(token.encode()).hexdigest()
            await store.create_session(digest, address, time.time() + 3600)
            tokens[address] = token
    return tokens


class BlastBridge:
    """A bridge that, once told, sends `calls_per_agent` calls (3 events each) per agent."""

    def __init__(self, agents: list[str], calls_per_agent: int) -> None:
        self.agents = agents
        self.calls_per_agent = calls_per_agent
        self.go = asyncio.Event()
        self.started = 0.0

    async def handler(self, ws: ServerConnection) -> None:
        await ws.send(json.dumps({"type": "hello", "v": 2, "pbx": "bench"}))
        # Like a real bridge, it answers the link at any time: a monitor (the link sends one
        # again whenever the roster changes) and every snapshot request.
        answering = asyncio.create_task(self._answer(ws))
        try:
            # A real bridge says it is alive while it has nothing else to say.
            while not self.go.is_set():
                await ws.send(json.dumps({"type": "heartbeat", "ts": time.time()}))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.go.wait(), 1.0)
            if not self.started:  # timed once, from the first event of the one blast
                self.started = time.perf_counter()
                await self._blast(ws)
            await ws.wait_closed()
        finally:
            answering.cancel()

    async def _answer(self, ws: ServerConnection) -> None:
        async for raw in ws:
            request = json.loads(raw)
            if request["type"] == "monitor":
                reply = {"type": "result", "req_id": request["req_id"], "ok": True}
                await ws.send(json.dumps(reply))
            elif request["type"] == "get_snapshot":
                await ws.send(json.dumps({"type": "snapshot", "req_id": request["req_id"]}))

    async def _blast(self, ws: ServerConnection) -> None:
        n = 0
        for round_ in range(self.calls_per_agent):
            for kind in KINDS:
                for agent in self.agents:
                    event = {"kind": kind, "call_id": f"b{round_}-{agent}", "agent": agent}
                    await ws.send(json.dumps({"type": "event", "event": event}))
                    n += 1
                    if n % 500 == 0:
                        await asyncio.sleep(0)


async def _run(base_url: str, bridge: BlastBridge, tokens: dict[str, str]) -> tuple[int, float]:
    ws_url = base_url.replace("http", "ws", 1) + "/ws/agent"
    sockets = []
    for token in tokens.values():
        ws = await websockets.connect(ws_url, subprotocols=["softphone.v2", f"auth.{token}"])  # type: ignore[list-item]
        await ws.recv()
        sockets.append(ws)
    expected = bridge.calls_per_agent * len(KINDS)
    last = [0.0] * len(sockets)

    async def drain(i: int, ws: Any) -> int:
        got = 0
        while got < expected:
            message = json.loads(await asyncio.wait_for(ws.recv(), 60))
            if message["type"] == "call":
                got += 1
        last[i] = time.perf_counter()
        return got

    readers = [asyncio.create_task(drain(i, ws)) for i, ws in enumerate(sockets)]
    bridge.go.set()
    total = sum(await asyncio.gather(*readers))
    for ws in sockets:
        await ws.close()
    return total, max(last) - bridge.started


def run(agents: int = 1000, calls_per_agent: int = 3) -> None:
    async def main() -> tuple[int, float]:
        with tempfile.TemporaryDirectory() as tmp:
            database_url = f"sqlite+aiosqlite:///{Path(tmp)}/bench.db"
            tokens = await _seed(database_url, agents)
            bridge = BlastBridge(list(tokens), calls_per_agent)
            async with serve(bridge.handler, "127.0.0.1", 0, max_size=None) as server:
                port = next(iter(server.sockets)).getsockname()[1]
                settings = Settings(
                    cti_url=f"bridge+ws://127.0.0.1:{port}/",
                    salesforce_url="browser://",
                    database_url=database_url,
                )
                with serving_in_thread(settings) as (base_url, app, _loop):
                    while not app.state.services.link.connected:  # noqa: ASYNC110
                        await asyncio.sleep(0.02)
                    return await _run(base_url, bridge, tokens)

    total, seconds = asyncio.run(main())
    print(
        f"link throughput: {agents} agents signed in, {calls_per_agent} calls each "
        f"(delivered, established, cleared)"
    )
    print(
        f"  {total} events from the bridge to the agents' sockets in {seconds:.2f} s: "
        f"{total / seconds:,.0f} events/s"
    )
