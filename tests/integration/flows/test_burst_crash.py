"""Kill -9 the proxy while a burst of Tasks is in flight as sObject Collections, restart it:
every outbox row ends as exactly one Task.

As in `test_crash.py`, the Salesforce stand-in runs in the test process and outlives the proxy,
which runs as a real subprocess on a SQLite file. The org is slow (0.3 s a call), so the kill
lands while collections are at the org: some created before the kill, some after it (the org
finishes a request it has received), and a fifth of the rows never sent at all.
"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
from collections import Counter
from pathlib import Path

import httpx

from proxy.salesforce.standin.org import demo_org
from proxy.salesforce.standin.server import StandinServer
from proxy.store import open_store
from tests.integration.flows.test_crash import free_port, org_env, start_proxy, wait_ready
from tests.integration.salesforce.test_task_bursts import queue_burst

ROWS = 1000  # the writer takes 800 (4 collections of 200) a pass: 200 wait their turn


async def queue_rows(url: str) -> list[str]:
    calls = [f"shift-{n:04d}@1001" for n in range(ROWS)]
    tasks = [{"CallObject": c, "Subject": "Inbound call", "Status": "Completed"} for c in calls]
    async with open_store(url) as store:
        await queue_burst(store, tasks)
    return calls


def outbox_task_ids(db: Path) -> dict[str, str]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT call_object, task_id FROM outbox WHERE state = 'written'")
        return dict(rows.fetchall())


async def test_kill_during_a_burst_then_restart_writes_each_task_once(tmp_path: Path) -> None:
    """Collections in flight at the kill, and rows never sent: each is one Task after restart."""
    org = demo_org()
    org.latency_seconds = 0.3
    db = tmp_path / "proxy.db"
    url = f"sqlite+aiosqlite:///{db}"
    calls = await queue_rows(url)
    async with StandinServer(org) as standin:
        env = org_env(standin, db)
        port = free_port()
        log = tmp_path / "proxy.log"
        proc = start_proxy(env, port, log)
        try:
            for _ in range(2000):
                if org.tasks() or proc.poll() is not None:
                    break
                await asyncio.sleep(0.005)
            proc.send_signal(signal.SIGKILL)  # the first collection has just landed
            proc.wait(10)
            at_kill = len(org.tasks())
            assert 0 < at_kill < ROWS, log.read_text()[-3000:]
            assert len(outbox_task_ids(db)) < ROWS
            proc = start_proxy(env, port, log)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                await wait_ready(client, proc)
            for _ in range(400):
                if len(outbox_task_ids(db)) == ROWS:
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(1.0)  # any duplicate would land by now
        finally:
            proc.kill()
            proc.wait(10)
    counts = Counter(str(t["CallObject"]) for t in org.tasks())
    assert counts == Counter(dict.fromkeys(calls, 1)), log.read_text()[-3000:]
    ids = {str(t["CallObject"]): str(t["Id"]) for t in org.tasks()}
    assert outbox_task_ids(db) == ids
