"""No agent waits on another agent's database writes; each agent's updates stay in order.

The database is held by another writer (as a backup or a slow disk would) while one agent
answers: that answer is shown only once it is saved, and meanwhile another agent's call still
rings at once.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.asyncio.client import ClientConnection

from tests.harness import RunningProxy, next_message, running_proxy, wait_for_call


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[RunningProxy]:
    with running_proxy(tmp_path) as running:
        yield running


async def test_a_ring_reaches_its_agent_while_another_agents_answer_waits_for_the_database(
    proxy: RunningProxy, tmp_path: Path
) -> None:
    first, second = proxy.sign_in("1001"), proxy.sign_in("1002")
    async with proxy.connect(first) as ws1, proxy.connect(second) as ws2:
        call = proxy.place_call(agent="1001")
        await wait_for_call(ws1, call, state="ringing")
        # Another writer takes the database (well inside the proxy's 5 s busy timeout).
        holder = sqlite3.connect(tmp_path / "test.db", timeout=10, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            await _send(ws1, "answer", call)
            # 1001's answer cannot be saved now, so it is not shown yet...
            shown = await _first_call_update(ws1, call, "active", within=0.5)
            assert shown is None, "an answer was shown before its log was saved"
            # ...while 1002's call rings at once, its log saved later.
            other = await asyncio.to_thread(proxy.place_call, agent="1002")
            await wait_for_call(ws2, other, state="ringing", timeout=2.0)
        finally:
            holder.execute("COMMIT")
            holder.close()
        # The database is free: the answer is saved, then shown.
        await wait_for_call(ws1, call, state="active")
    saved = await asyncio.to_thread(_saved_state, tmp_path / "test.db", call)
    assert saved == "open"


async def test_each_agents_updates_arrive_numbered_in_order_through_a_burst(
    proxy: RunningProxy,
) -> None:
    """Rings, pops, answers and hang-ups for several agents at once: every page sees its own
    updates with sequence numbers 1, 2, 3... and no gap, whatever the others are doing."""
    agents = ["1001", "1002", "1003"]
    tokens = [proxy.sign_in(a) for a in agents]
    sockets = [proxy.connect(t) for t in tokens]
    async with sockets[0] as ws1, sockets[1] as ws2, sockets[2] as ws3:
        pages = [ws1, ws2, ws3]
        first_seq = [await _welcome_seq(ws) for ws in pages]
        calls = [await asyncio.to_thread(proxy.place_call, agent=a) for a in agents]
        for ws, call in zip(pages, calls, strict=True):
            await _send(ws, "answer", call)
        for ws, call in zip(pages, calls, strict=True):
            await _send(ws, "hangup", call)
        for ws, call, seq in zip(pages, calls, first_seq, strict=True):
            seen, states = await _updates_until_cleared(ws, call)
            assert seen == list(range(seq + 1, seq + 1 + len(seen))), seen
            # The call's own updates in the order it lived them, never one overtaking another.
            assert [s for i, s in enumerate(states) if i == 0 or states[i - 1] != s] == [
                "ringing",
                "active",
                "cleared",
            ], states


async def _send(ws: ClientConnection, command: str, call_id: str) -> None:
    await ws.send(json.dumps({"type": command, "call_id": call_id}))


async def _first_call_update(
    ws: ClientConnection, call_id: str, state: str, within: float
) -> object:
    try:
        return await wait_for_call(ws, call_id, state=state, timeout=within)
    except TimeoutError:
        return None


async def _welcome_seq(ws: ClientConnection) -> int:
    while True:
        message = await next_message(ws)
        if message["type"] == "welcome":
            return int(message["seq"])


async def _updates_until_cleared(ws: ClientConnection, call_id: str) -> tuple[list[int], list[str]]:
    seqs: list[int] = []
    states: list[str] = []
    while True:
        message = await next_message(ws)
        if "seq" in message and message["type"] != "welcome":
            seqs.append(int(message["seq"]))
        call = message.get("call") if message.get("type") == "call" else None
        if call and call["call_id"] == call_id:
            states.append(call["state"])
            if call["state"] == "cleared":
                return seqs, states


def _saved_state(db: Path, call_id: str) -> str:
    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT state FROM call_logs WHERE call_id = ?", (call_id,)).fetchone()
    return str(row[0]) if row else ""
