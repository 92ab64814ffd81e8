"""Cluster mode is just settings: a shared bus with a store only one node sees is refused."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from proxy.app import check_seams
from proxy.settings import Settings

CLI = [sys.executable, "-m", "proxy.cli"]


def test_serve_refuses_a_redis_bus_with_sqlite_and_says_why(tmp_path: Path) -> None:
    """The admin who sets only the bus gets exit 2 and what to set, before anything listens."""
    env = {
        **os.environ,
        "SOFTPHONE_BUS_URL": "redis://127.0.0.1:6379/0",
        "SOFTPHONE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'node.db'}",
    }
    result = subprocess.run(
        [*CLI, "serve", "--allow-http", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )
    assert result.returncode == 2
    assert "SQLite, a file only this node sees" in result.stderr
    assert "postgresql+asyncpg://" in result.stderr
    assert not (tmp_path / "node.db").exists()


@pytest.mark.parametrize(
    ("bus_url", "database_url"),
    [
        ("memory://", "sqlite+aiosqlite:///./x.db"),
        ("memory://", "postgresql+asyncpg://postgres@127.0.0.1/x"),
        ("redis://127.0.0.1:6379/0", "postgresql+asyncpg://postgres@127.0.0.1/x"),
    ],
)
def test_the_other_pairs_are_accepted(bus_url: str, database_url: str) -> None:
    check_seams(Settings(bus_url=bus_url, database_url=database_url))
