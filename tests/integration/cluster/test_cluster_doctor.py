"""The doctor on cluster mode: Redis and PostgreSQL reachable, recent enough, and who holds the
link lease; each problem a FAIL that says what to fix."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from proxy.cli import doctor
from proxy.cluster.lease import LinkLease
from proxy.settings import Settings
from tests.databases import postgres_url
from tests.redis_db import REDIS_URL


@pytest.fixture
async def database_url() -> AsyncIterator[str]:
    async with postgres_url() as url:
        yield url


def lines(results: list[doctor.Result]) -> dict[str, tuple[str, str]]:
    return {r.check: (r.level, r.detail) for r in results}


async def test_a_single_node_passes_without_redis() -> None:
    found = lines(await doctor.check_cluster(Settings(bus_url="memory://")))
    assert found == {"cluster": ("PASS", "single node: the event bus is memory://")}


async def test_redis_and_postgresql_pass_with_their_versions_and_the_lease_holder(
    database_url: str,
) -> None:
    settings = Settings(bus_url=REDIS_URL, database_url=database_url)
    found = lines(await doctor.check_cluster(settings))
    assert found["redis"][0] == "PASS" and found["redis"][1].startswith("Redis 7.")
    level, detail = found["postgresql"]
    assert level == "PASS" and detail.startswith("PostgreSQL 1")
    assert detail.endswith("advisory locks work; no node has held the link yet")
    async with LinkLease(database_url, "node-a") as lease:
        await asyncio.wait_for(lease.wait_held(), 10)
        found = lines(await doctor.check_cluster(settings))
        assert "the link lease is held by node-a (token 1, since " in found["postgresql"][1]
    found = lines(await doctor.check_cluster(settings))
    assert "nobody holds the link lease now (last node-a, token 1" in found["postgresql"][1]


async def test_unreachable_redis_fails_without_showing_its_password(database_url: str) -> None:
    settings = Settings(bus_url="redis://:hunter2@127.0.0.1:1/0", database_url=database_url)
    level, detail = lines(await doctor.check_cluster(settings))["redis"]
    assert level == "FAIL"
    assert detail.startswith("cannot reach the bus at 127.0.0.1:1/0")
    assert "hunter2" not in detail


async def test_unreachable_postgresql_fails() -> None:
    settings = Settings(
        bus_url=REDIS_URL, database_url="postgresql+asyncpg://postgres@127.0.0.1:1/nowhere"
    )
    level, detail = lines(await doctor.check_cluster(settings))["postgresql"]
    assert level == "FAIL" and detail.startswith("cannot reach the cluster's database")


async def test_a_redis_bus_over_sqlite_fails_saying_why() -> None:
    settings = Settings(bus_url=REDIS_URL, database_url="sqlite+aiosqlite:///./x.db")
    level, detail = lines(await doctor.check_cluster(settings))["cluster"]
    assert level == "FAIL" and "SQLite, a file only this node sees" in detail
