"""Kill -9 the proxy between Voice calls' rings and their ends: once it is back, every VoiceCall
it created is ended exactly once, and none is created twice.

As the Task crash test: the stand-in org (here serving the Telephony Integration API, reached
over HTTPS through SOFTPHONE_VOICE_SCRT_URL with the JWT settings an admin gives) runs in the
test process and outlives the proxy, which runs as a real subprocess on a SQLite file. Voice
agents hold the Voice connector's socket. The simulator dies with the proxy, so after the
restart the calls it had open are over and the proxy ends their VoiceCalls.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
from collections import Counter
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import websockets

from proxy.salesforce.standin.org import demo_org
from proxy.salesforce.standin.server import StandinServer
from tests.integration.flows.test_crash import free_port, org_env, start_proxy, wait_ready

AGENTS = ["1001", "1002", "1003"]


def voice_creates_in_store(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        query = "SELECT count(*) FROM outbox WHERE kind = 'voice_create'"
        return int(conn.execute(query).fetchone()[0])


async def open_connector(stack: AsyncExitStack, port: int, agent: str) -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        body = {"address": agent, "password": "demo"}
        token = (await client.post("/api/v1/sessions", json=body)).json()["token"]
    protocols: Any = ["softphone.v2", f"auth.{token}", "voice.connector"]
    ws = await stack.enter_async_context(
        websockets.connect(f"ws://127.0.0.1:{port}/ws/agent", subprotocols=protocols)
    )
    await ws.recv()  # the welcome: the agent is a Voice agent from here on


async def test_kill_between_ring_and_end_ends_every_voicecall_once(tmp_path: Path) -> None:
    """Calls ringing, answered and ending when the proxy dies: each VoiceCall at the org is
    created once and ended once (a PATCH whose answer the crash lost is repeated word for
    word)."""
    org = demo_org()
    telephony = org.telephony.with_demo_key()
    key_file = tmp_path / "voice.pem"
    key_file.write_text(telephony.private_key)
    db = tmp_path / "proxy.db"
    async with StandinServer(org) as standin:
        env = org_env(
            standin,
            db,
            WRAP_UP_SECONDS="0",
            VOICE_SCRT_URL=standin.instance_url,
            VOICE_ORG_ID=telephony.org_id,
            VOICE_CALL_CENTER=telephony.call_center,
            VOICE_PRIVATE_KEY_FILE=str(key_file),
        )
        port = free_port()
        log = tmp_path / "proxy.log"
        proc = start_proxy(env, port, log)
        placed = 0
        try:
            async with (
                httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client,
                AsyncExitStack() as connectors,
            ):
                await wait_ready(client, proc)
                for agent in AGENTS:
                    await open_connector(connectors, port, agent)
                legs = []
                for round_ in range(2):
                    for agent in AGENTS:
                        body = {"agent": agent, "ani": f"+1650450{placed:04d}"}
                        leg = (await client.post("/sim/calls", json=body)).json()
                        placed += 1
                        if round_ == 0:  # the first round is answered, the second still rings
                            await client.post(f"/sim/calls/{leg['call_id']}/answer")
                        legs.append(leg)
                    while voice_creates_in_store(db) < placed:
                        await asyncio.sleep(0.02)
                    if round_ == 0:
                        await client.post(f"/sim/calls/{legs[0]['call_id']}/hangup")
                proc.send_signal(signal.SIGKILL)  # calls ringing, talking and just ended
            proc.wait(10)
            proc = start_proxy(env, port, log)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                await wait_ready(client, proc)
            for _ in range(400):
                if len({key for key, _ in telephony.updates}) >= placed:
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(1.0)  # any duplicate would land by now
        finally:
            proc.kill()
            proc.wait(10)
    tail = log.read_text()[-3000:]
    assert len(telephony.voice_calls) == placed, tail
    ended = Counter(key for key, _ in telephony.updates)
    assert set(ended) == set(telephony.voice_calls), tail
    # One end per call. A PATCH in flight when the proxy died is sent again after it restarts
    # (its answer was lost: the API documents that a repeat overwrites), and must then say
    # exactly what the first did.
    ends = {
        key: {json.dumps(fields, sort_keys=True) for k, fields in telephony.updates if k == key}
        for key in ended
    }
    assert all(len(said) == 1 for said in ends.values()), ends
