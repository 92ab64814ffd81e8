"""Migrations: a database made before migrations existed is upgraded in place, keeping its rows."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from proxy.cli import doctor
from proxy.settings import Settings
from proxy.store import open_store
from proxy.store.engine import SchemaTooNew
from proxy.store.retention import Retention
from softphone.agentdata import HISTORY_LIMITS, HistoryEntry
from softphone.calllog import CallLog
from softphone.events import Direction


async def test_a_pre_migration_database_is_upgraded_keeping_agents(tmp_path: Path) -> None:
    """The agents and sessions tables of the first release stay; the new tables appear."""
    db = tmp_path / "old.db"
    with sqlite3.connect(db) as conn:
        conn.execute(
            "CREATE TABLE agents (address VARCHAR(80) PRIMARY KEY, name VARCHAR(120) NOT NULL,"
            " extension VARCHAR(32) NOT NULL, kind VARCHAR(16) NOT NULL,"
            " password_hash VARCHAR(200) NOT NULL,"
            " salesforce_user_id VARCHAR(18) NOT NULL DEFAULT '')"
        )
        conn.execute(
            "CREATE TABLE sessions (token_hash VARCHAR(64) PRIMARY KEY,"
            " address VARCHAR(80) NOT NULL, expires_at FLOAT NOT NULL)"
        )
        conn.execute("INSERT INTO agents VALUES ('1001', 'Alex', '1001', 'acd', 'h', '')")
    async with open_store(f"sqlite+aiosqlite:///{db}") as store:
        agent = await store.get_agent("1001")
        assert agent is not None and agent.name == "Alex"
        assert await store.list_favorites("1001") == []
    async with open_store(f"sqlite+aiosqlite:///{db}") as store:  # a second start: no-op
        assert len(await store.list_agents()) == 1
    with sqlite3.connect(db) as conn:
        (version,) = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    assert version == "0006"


async def test_retention_purges_by_the_injected_clock(tmp_path: Path) -> None:
    """With the clock 401 days after a call, its history goes; 399 days after, it stays."""
    day = 86400.0
    async with open_store(f"sqlite+aiosqlite:///{tmp_path / 'r.db'}") as store:
        log = CallLog("c1", "1001", Direction.INBOUND, False, "+1650", 0.0, state="written")
        entry = HistoryEntry(
            call_id="c1",
            direction="inbound",
            outcome="answered",
            placed=False,
            number="+1650",
            started_at=0.0,
        )
        await store.end_call(log, entry, now=0.0)
        now = [399 * day]
        retention = Retention(store, 400, clock=lambda: now[0])
        assert (await retention.purge_now()).history == 0
        assert len(await store.list_history("1001", HISTORY_LIMITS)) == 1
        now[0] = 401 * day
        counts = await retention.purge_now()
        assert (counts.history, counts.call_logs) == (1, 1)
        assert await store.list_history("1001", HISTORY_LIMITS) == []


async def test_a_database_a_newer_version_migrated_stops_the_start_saying_why(
    tmp_path: Path,
) -> None:
    """During a rolling upgrade the first new node migrates the shared database; an old node
    restarted after that stops with the reason and what to do, and the doctor says the same."""
    url = f"sqlite+aiosqlite:///{tmp_path}/newer.db"
    async with open_store(url):
        pass
    with sqlite3.connect(tmp_path / "newer.db") as db:
        db.execute("UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(SchemaTooNew) as refused:
        async with open_store(url):
            pass
    assert str(refused.value).startswith(
        "the database's schema is at 9999, which a newer softphone-proxy made; this version "
        "knows up to "
    )
    assert "Upgrade this node" in str(refused.value)
    found = await doctor.check_store(Settings(database_url=url))
    assert (found.level, found.detail) == ("FAIL", str(refused.value))
