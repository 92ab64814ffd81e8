"""The doctor on cluster mode: Redis and PostgreSQL reachable, recent enough, doing what the bus
and the lease need, and who holds the link lease; each problem a FAIL that says what to fix."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import shutil
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from proxy.cli import doctor
from proxy.cluster.lease import LinkLease
from proxy.settings import Settings
from tests.databases import postgres_url
from tests.integration.links.link_peers import BridgePeer
from tests.redis_db import REDIS_URL, redis_bus_url, redis_prefix


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
    assert found["redis"] == (
        "PASS",
        f"Redis {await redis_version()} at {REDIS_URL.split('://')[1]}: "
        "the bus's streams and scripts work",
    )
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


async def test_the_bus_is_tried_on_keys_of_the_doctors_own_and_none_is_left(
    database_url: str,
) -> None:
    """The doctor publishes, reads and replays through the bus under the cluster's prefix, and
    leaves nothing in the Redis the cluster shares."""
    async with redis_prefix() as prefix:
        settings = Settings(bus_url=redis_bus_url(prefix), database_url=database_url)
        assert lines(await doctor.check_cluster(settings))["redis"][0] == "PASS"
        client = aioredis.Redis.from_url(REDIS_URL)
        try:
            left = [key async for key in client.scan_iter(match=f"{prefix}*")]
        finally:
            await client.aclose()
        assert left == []


async def test_a_redis_user_without_scripts_fails_naming_what_the_bus_needs(
    database_url: str,
) -> None:
    """A Redis whose ACL forbids Lua scripts (some hosted ones do) answers PING and INFO, yet
    the bus cannot publish: the doctor says so, and which step, without the password."""
    async with acl_user("~*", "&*", "+@all", "-@scripting") as (url, password):
        settings = Settings(bus_url=url, database_url=database_url)
        level, detail = lines(await doctor.check_cluster(settings))["redis"]
    assert level == "FAIL"
    assert "refuses what the bus does: publishing (a script that runs XADD with MAXLEN)" in detail
    assert detail.endswith("no permissions to run the 'evalsha' command")
    assert password not in detail


async def test_a_redis_user_without_channels_fails_at_the_line_to_the_holder(
    database_url: str,
) -> None:
    """Redis 7 gives a new ACL user no pub/sub channel: the bus works, but no node could ask
    the link holder for anything. The doctor says which."""
    async with acl_user("~*", "resetchannels", "+@all") as (url, _):
        settings = Settings(bus_url=url, database_url=database_url)
        level, detail = lines(await doctor.check_cluster(settings))["redis"]
    assert level == "FAIL"
    assert "refuses what the bus does: publishing on the line (PUBLISH): this user has no " in (
        detail
    )
    assert detail.endswith("permissions to access one of the channels used as arguments")


async def test_the_acl_the_operations_guide_gives_passes(database_url: str) -> None:
    """docs/operations.md's user: keys and channels under the prefix, nothing dangerous but
    INFO (the doctor's)."""
    async with redis_prefix() as prefix:
        rules = (f"~{prefix}*", "resetchannels", f"&{prefix}*", "+@all", "-@dangerous", "+info")
        async with acl_user(*rules) as (url, _):
            settings = Settings(bus_url=f"{url}?prefix={prefix}", database_url=database_url)
            assert lines(await doctor.check_cluster(settings))["redis"][0] == "PASS"


async def test_a_redis_replica_fails_pointing_at_the_primary(
    database_url: str, tmp_path: Path
) -> None:
    """Nodes pointed at a replica would write where nothing reaches the others."""
    async with spare_redis(tmp_path, "--replicaof", "127.0.0.1", "1") as url:
        settings = Settings(bus_url=url, database_url=database_url)
        level, detail = lines(await doctor.check_cluster(settings))["redis"]
    assert level == "FAIL"
    assert "is a replica (of 127.0.0.1:1)" in detail
    assert detail.endswith("Point SOFTPHONE_BUS_URL at the primary's address")


async def test_a_redis_cluster_node_fails_saying_why(database_url: str, tmp_path: Path) -> None:
    """Redis Cluster refuses the bus's XREAD across agents' keys: one Redis is what works."""
    # The cluster bus's port, by default ours + 10000, may be past 65535 for a free port.
    bus_port = str(free_port())
    async with spare_redis(tmp_path, "--cluster-enabled", "yes", "--cluster-port", bus_port) as url:
        settings = Settings(bus_url=url, database_url=database_url)
        level, detail = lines(await doctor.check_cluster(settings))["redis"]
    assert level == "FAIL" and "is a Redis Cluster node" in detail


async def test_an_eviction_policy_that_may_drop_sequence_numbers_warns(
    database_url: str, tmp_path: Path
) -> None:
    """allkeys-* may evict the agents' last numbers (a hash without expiry): a warning that
    names the policy to use instead."""
    async with spare_redis(tmp_path, "--maxmemory-policy", "allkeys-lru") as url:
        settings = Settings(bus_url=url, database_url=database_url)
        level, detail = lines(await doctor.check_cluster(settings))["redis"]
    assert level == "WARN"
    assert "the bus works, but maxmemory-policy allkeys-lru" in detail
    assert detail.endswith("Use noeviction or a volatile-* policy")


async def redis_version() -> str:
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        return str((await client.info("server"))["redis_version"])
    finally:
        await client.aclose()


@contextlib.asynccontextmanager
async def spare_redis(tmp_path: Path, *options: str) -> AsyncIterator[str]:
    """A Redis server of the test's own on a free loopback port, started with `options`."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed: a spare Redis cannot be started")
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        binary,
        *("--port", str(port), "--bind", "127.0.0.1", "--dir", str(tmp_path)),
        *("--save", "", "--appendonly", "no", *options),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        client = aioredis.Redis.from_url(url, protocol=2)
        try:
            for _ in range(400):
                with contextlib.suppress(RedisError, OSError):
                    await client.ping()
                    break
                if process.returncode is not None:
                    said = await process.stdout.read() if process.stdout else b""
                    raise RuntimeError(f"redis-server {options} stopped: {said.decode()}")
                await asyncio.sleep(0.025)
        finally:
            await client.aclose()
        yield url
    finally:
        if process.returncode is None:
            process.terminate()
        await process.communicate()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def acl_user(*rules: str) -> AsyncIterator[tuple[str, str]]:
    """A Redis user of the test's own with these ACL rules: its bus URL and password."""
    admin = aioredis.Redis.from_url(REDIS_URL)
    user, password = f"softphone-doctor-test-{secrets.token_hex(4)}", secrets.token_hex(12)
    try:
        await admin.execute_command("ACL", "SETUSER", user, "on", f">{password}", *rules)
    except (ResponseError, OSError) as exc:
        await admin.aclose()
        pytest.skip(f"cannot add an ACL user on {REDIS_URL}: {exc}")
    try:
        where = urlsplit(REDIS_URL)
        yield (
            f"redis://{user}:{password}@{where.hostname}:{where.port or 6379}{where.path}",
            password,
        )
    finally:
        await admin.acl_deluser(user)
        await admin.aclose()


async def test_the_doctor_opens_no_second_link_while_a_node_holds_it(database_url: str) -> None:
    """Most PBXs take one application session, so a doctor run on a cluster node must not make
    the PBX drop the holder's: while a node holds the lease the doctor leaves the PBX alone and
    says who holds it; once none does, it connects to check the PBX as on a single node."""
    peer = BridgePeer()
    async with peer.running():
        settings = Settings(bus_url=REDIS_URL, database_url=database_url, cti_url=peer.url)
        async with LinkLease(database_url, "node-a") as lease:
            await asyncio.wait_for(lease.wait_held(), 10)
            held = await doctor.check_link(settings, 3)
        assert (held.level, held.detail) == (
            "PASS",
            "not opened from here: node-a holds it, and a second session could make the PBX "
            "drop the holder's (its /readyz says whether its link is up)",
        )
        assert peer.connections == 0
        free = await doctor.check_link(settings, 3)
    assert free.level == "PASS" and free.detail.startswith("connected to ws://127.0.0.1:")
    assert peer.connections == 1
