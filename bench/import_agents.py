"""Import throughput: `softphone-proxy agents import` of N generated rows, timed as a whole
command (start-up, reading and checking the file, hashing every password, writing the store),
as an admin would run it at go-live. Each row has its own password, as a real roster does.
"""

from __future__ import annotations

import asyncio
import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from proxy.store.sql import SqlStore

GOAL_SECONDS_PER_10K = 60.0


def write_roster(path: Path, rows: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(["address", "name", "extension", "kind", "password"])
        for i in range(rows):
            out.writerow(
                [f"agent{i}@bench.example", f"Agent {i}", str(300_000 + i), "acd", f"pw-{i:08d}-x"]
            )


async def _count(database_url: str) -> int:
    async with SqlStore(database_url) as store:
        return len(await store.list_agents())


def run(rows: int = 1000) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        roster = Path(tmp) / "roster.csv"
        write_roster(roster, rows)
        database_url = f"sqlite+aiosqlite:///{tmp}/import.db"
        env = {**os.environ, "SOFTPHONE_DATABASE_URL": database_url}
        command = [sys.executable, "-m", "proxy.cli", "agents", "import", str(roster)]
        started = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            print(f"  agents import failed ({done.returncode}): {done.stderr.strip()[-500:]}")
            return
        stored = asyncio.run(_count(database_url))
    per_10k = seconds / rows * 10_000
    print(f"agents import: {rows:,} generated rows, each with its own password, one command")
    print(
        f"  {seconds:.1f} s = {rows / seconds:,.0f} agents/s "
        f"({seconds / rows * 1000:.1f} ms each); "
        f"{stored:,} in the store; 10,000 would take about {per_10k:,.0f} s "
        f"(goal < {GOAL_SECONDS_PER_10K:.0f} s)"
    )
