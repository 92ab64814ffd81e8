"""Kill -9 the proxy during a burst of call ends, restart it: every call ends as exactly one Task.

The Salesforce stand-in runs in the test process, so it outlives the proxy it serves, and the
proxy runs as a real subprocess (`softphone-proxy demo`) on a SQLite file that survives it.
The simulator PBX dies with the proxy; after the restart its (empty) snapshot tells the proxy
that the calls it still had open are over, so those are logged too.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path

import httpx

from proxy.salesforce.standin.org import demo_org
from proxy.salesforce.standin.server import StandinServer

AGENTS = ["1001", "1002", "1003", "1004", "1005"]
ROUNDS = 4


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_proxy(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "proxy.cli", "demo", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def wait_ready(client: httpx.AsyncClient, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(300):
        assert proc.poll() is None, "the proxy exited at start"
        try:
            if (await client.get("/sim/agents")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.05)
    raise AssertionError("the proxy did not start")


def org_env(standin: StandinServer, db: Path, **settings: str) -> dict[str, str]:
    """A proxy process's environment: this stand-in org over HTTPS, a SQLite file, Tasks
    retried quickly, and `settings` (SOFTPHONE_ names without the prefix, upper case)."""
    org = standin.org
    return {
        **os.environ,
        "SOFTPHONE_SALESFORCE_URL": standin.instance_url,
        "SOFTPHONE_SALESFORCE_CONSUMER_KEY": org.consumer_key,
        "SOFTPHONE_SALESFORCE_CONSUMER_SECRET": org.consumer_secret,
        "REQUESTS_CA_BUNDLE": standin.ca_file,
        "SOFTPHONE_DATABASE_URL": f"sqlite+aiosqlite:///{db}",
        "SOFTPHONE_TASK_RETRY_SECONDS": "0.1",
        **{f"SOFTPHONE_{name}": value for name, value in settings.items()},
    }


def logs_in_store(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM call_logs").fetchone()[0])


async def test_kill_during_call_ends_then_restart_logs_each_call_once(tmp_path: Path) -> None:
    """Every call answered before the kill has exactly one Task once the proxy is back."""
    org = demo_org()
    org.latency_seconds = 0.05  # Task writes are in flight when the process dies
    db = tmp_path / "proxy.db"
    async with StandinServer(org) as standin:
        env = org_env(standin, db, WRAP_UP_SECONDS="0", LOG_MISSED="true")
        port = free_port()
        log = tmp_path / "proxy.log"
        proc = start_proxy(env, port, log)
        placed: list[tuple[str, str]] = []  # (device, the PBX's call id)
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                await wait_ready(client, proc)
                for round_ in range(ROUNDS):
                    legs = []
                    for agent in AGENTS:
                        body = {"agent": agent, "ani": f"+1650450{len(placed):04d}"}
                        leg = (await client.post("/sim/calls", json=body)).json()
                        await client.post(f"/sim/calls/{leg['call_id']}/answer")
                        legs.append(leg)
                        placed.append((agent, leg["call_id"]))
                    while logs_in_store(db) < len(placed):
                        await asyncio.sleep(0.02)
                    last = round_ == ROUNDS - 1
                    for n, leg in enumerate(legs):
                        await client.post(f"/sim/calls/{leg['call_id']}/hangup")
                        if last and n == 2:
                            proc.send_signal(signal.SIGKILL)  # mid-burst, writes in flight
                            break
            proc.wait(10)
            proc = start_proxy(env, port, log)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                await wait_ready(client, proc)
            for _ in range(400):
                if len({t["CallObject"] for t in org.tasks()}) >= len(placed):
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(1.0)  # any duplicate would land by now
        finally:
            proc.kill()
            proc.wait(10)
    counts = Counter(t["CallObject"] for t in org.tasks())
    # The Task of each call is named by the proxy's id for it, kept with its log.
    with sqlite3.connect(db) as conn:
        ids = dict(
            ((device, pbx_id), call_id)
            for call_id, device, pbx_id in conn.execute(
                "SELECT call_id, device, pbx_call_id FROM call_logs"
            )
        )
    expected = {ids[key] for key in placed}
    assert len(expected) == len(placed)
    assert set(counts) == expected, log.read_text()[-3000:]
    assert all(n == 1 for n in counts.values()), counts
