"""What the doctor (`softphone-proxy check`) says about cluster mode: whether this node reaches
the Redis and the PostgreSQL the cluster shares, whether their versions do what the bus and the
lease need, and who holds the link lease now."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Literal

import asyncpg
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from proxy.cluster import check_cluster
from proxy.cluster.lease import asyncpg_dsn, lock_key
from proxy.settings import Settings

Level = Literal["PASS", "WARN", "FAIL"]
# Streams, Lua scripts and SET NX PX are older; 6.2 is the oldest Redis still maintained
# when cluster mode was written, and the one its tests ran against (7.0).
REDIS_MINIMUM = (6, 2)
POSTGRES_MINIMUM = 12  # the oldest the store's migrations are run on
TIMEOUT = 5.0


@dataclass(frozen=True)
class Finding:
    level: Level
    check: str
    detail: str


async def probe_cluster(settings: Settings) -> list[Finding]:
    """The bus, and in cluster mode the store's PostgreSQL as the lease uses it."""
    try:
        check_cluster(settings)
    except ValueError as exc:
        return [Finding("FAIL", "cluster", str(exc))]
    if not settings.bus_url.startswith("redis:"):
        return [Finding("PASS", "cluster", f"single node: the event bus is {settings.bus_url}")]
    return [await probe_redis(settings.bus_url), await probe_postgres(settings.database_url)]


async def probe_redis(bus_url: str) -> Finding:
    client = aioredis.Redis.from_url(bus_url.split("?", 1)[0], socket_timeout=TIMEOUT)
    try:
        info = await client.info("server")
    except (RedisError, OSError) as exc:
        return Finding("FAIL", "redis", f"cannot reach the bus at {_where(bus_url)}: {exc}")
    finally:
        with contextlib.suppress(RedisError, OSError):
            await client.aclose()
    version = str(info.get("redis_version", "0"))
    if _numbers(version) < REDIS_MINIMUM:
        wanted = ".".join(map(str, REDIS_MINIMUM))
        return Finding(
            "FAIL", "redis", f"Redis {version} is too old for the bus: {wanted} or later"
        )
    return Finding("PASS", "redis", f"Redis {version} at {_where(bus_url)}")


async def probe_postgres(database_url: str) -> Finding:
    """Version, and an advisory lock taken and given back (what the link lease needs)."""
    try:
        conn = await asyncpg.connect(asyncpg_dsn(database_url), timeout=TIMEOUT)
    except (OSError, TimeoutError, asyncpg.PostgresError, ValueError) as exc:
        return Finding("FAIL", "postgresql", f"cannot reach the cluster's database: {exc}")
    try:
        version = str(await conn.fetchval("SHOW server_version"))
        probe = lock_key("doctor probe")
        locked = await conn.fetchval("SELECT pg_try_advisory_lock($1)", probe)
        await conn.execute("SELECT pg_advisory_unlock($1)", probe)
        holder = await _lease_holder(conn)
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        return Finding("FAIL", "postgresql", f"connected, but a query failed: {exc}")
    finally:
        with contextlib.suppress(OSError, TimeoutError, asyncpg.PostgresError):
            await asyncio.wait_for(conn.close(), TIMEOUT)
    if _numbers(version)[:1] < (POSTGRES_MINIMUM,):
        return Finding(
            "FAIL", "postgresql", f"PostgreSQL {version}: {POSTGRES_MINIMUM} or later is needed"
        )
    if not locked:
        return Finding("FAIL", "postgresql", "advisory locks refused: the link lease needs them")
    return Finding("PASS", "postgresql", f"PostgreSQL {version}, advisory locks work; {holder}")


async def _lease_holder(conn: asyncpg.Connection) -> str:
    exists = await conn.fetchval("SELECT to_regclass('softphone_link_lease') IS NOT NULL")
    if not exists:
        return "no node has held the link yet"
    row = await conn.fetchrow(
        "SELECT holder, token, since FROM softphone_link_lease WHERE name = 'link'"
    )
    if row is None:
        return "no node has held the link yet"
    # A bigint advisory key shows in pg_locks as its two 32-bit halves.
    key = lock_key("link") & 0xFFFFFFFFFFFFFFFF
    held = await conn.fetchval(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
        " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        " AND classid = $1 AND objid = $2 AND objsubid = 1",
        key >> 32,
        key & 0xFFFFFFFF,
    )
    taken = f"token {row['token']}, since {row['since']:%Y-%m-%d %H:%M:%S %Z}"
    if held:
        return f"the link lease is held by {row['holder']} ({taken})"
    return f"nobody holds the link lease now (last {row['holder']}, {taken})"


def _numbers(version: str) -> tuple[int, ...]:
    parts = []
    for part in version.split(" ")[0].split("."):
        digits = "".join(c for c in part if c.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def _where(url: str) -> str:
    """host:port/db of a Redis URL, without any password in it."""
    rest = url.split("://", 1)[-1].split("?", 1)[0]
    return rest.rpartition("@")[2]
