"""Import throughput: `softphone-proxy agents import` of N generated rows, timed as a whole
command (start-up, reading and checking the file, hashing every password, writing the store),
as an admin would run it at go-live. Each row has its own password, as a real roster does.

Then the same N agents again, from the CSV `agents export` made of the first roster (each
row's ready-made argon2id hash in a password_hash column), into an empty store: a re-import,
or a migration from a system that has the hashes, which hashes nothing.
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


def _agents(database_url: str, *args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    env = {**os.environ, "SOFTPHONE_DATABASE_URL": database_url}
    command = [sys.executable, "-m", "proxy.cli", "agents", *args]
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    return done, time.perf_counter() - started


def _report(what: str, rows: int, seconds: float, stored: int) -> None:
    per_10k = seconds / rows * 10_000
    print(f"agents import: {rows:,} generated rows, {what}, one command")
    print(
        f"  {seconds:.1f} s = {rows / seconds:,.0f} agents/s "
        f"({seconds / rows * 1000:.1f} ms each); "
        f"{stored:,} in the store; 10,000 would take about {per_10k:,.0f} s "
        f"(goal < {GOAL_SECONDS_PER_10K:.0f} s)"
    )


def run(rows: int = 1000) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        roster = Path(tmp) / "roster.csv"
        write_roster(roster, rows)
        plain_url = f"sqlite+aiosqlite:///{tmp}/import.db"
        done, seconds = _agents(plain_url, "import", str(roster))
        if done.returncode != 0:
            print(f"  agents import failed ({done.returncode}): {done.stderr.strip()[-500:]}")
            return
        _report("each with its own password", rows, seconds, asyncio.run(_count(plain_url)))

        exported, _ = _agents(plain_url, "export")
        if exported.returncode != 0:
            print(f"  agents export failed ({exported.returncode}): {exported.stderr[-500:]}")
            return
        hashed = Path(tmp) / "hashed.csv"
        hashed.write_text(exported.stdout, encoding="utf-8")
        hashed_url = f"sqlite+aiosqlite:///{tmp}/hashed.db"
        done, seconds = _agents(hashed_url, "import", str(hashed))
        if done.returncode != 0:
            print(f"  agents import failed ({done.returncode}): {done.stderr.strip()[-500:]}")
            return
        what = "each with its own ready-made hash (password_hash)"
        _report(what, rows, seconds, asyncio.run(_count(hashed_url)))
