"""What the doctor (`softphone-proxy check`) says about cluster mode: whether this node reaches
the Redis and the PostgreSQL the cluster shares, whether they do what the bus and the lease need,
and who holds the link lease now.

Redis is asked for its version, then made to do what the bus does (publish, read, replay and
refuse a stale number) on keys of the doctor's own: a server can be recent enough and still
refuse the bus, when its ACL forbids a command, when it is a read-only replica, or when it is
a Redis-compatible server missing a stream option.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import asyncpg
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from proxy.bus.base import StaleSequence
from proxy.bus.redis import RedisBackend
from proxy.cluster import check_cluster
from proxy.cluster.lease import asyncpg_dsn, lock_key
from proxy.settings import Settings

Level = Literal["PASS", "WARN", "FAIL"]
# What the bus (proxy/bus/redis.py) needs of Redis: streams whose entry IDs the producer gives,
# XADD's MAXLEN, XREAD BLOCK and XRANGE came in 5.0, Lua scripts and SET NX PX long before; and
# redis-py 8, the client this release installs, opens every connection with HELLO 3 (RESP3),
# which came in 6.0. The tests run against 7.0.
REDIS_MINIMUM = (6, 0)
# What the store and the lease need of PostgreSQL: INSERT ... ON CONFLICT and FOR UPDATE SKIP
# LOCKED came in 9.5, advisory locks long before; SQLAlchemy, which runs the store's queries
# and migrations, supports 9.6 and later. As server_version_num. The tests run against 15.
POSTGRES_MINIMUM = 90600
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
    """Version, what kind of server it is, and the bus's own commands tried on it."""
    # RESP2 for this first look: an old server that does not know HELLO still says its version.
    client = aioredis.Redis.from_url(_base(bus_url), protocol=2, socket_timeout=TIMEOUT)
    try:
        info = await client.info()
    except (RedisError, OSError) as exc:
        return Finding("FAIL", "redis", f"cannot reach the bus at {_where(bus_url)}: {exc}")
    finally:
        with contextlib.suppress(RedisError, OSError):
            await client.aclose()
    version = str(info.get("redis_version", "0"))
    server = f"Redis {version} at {_where(bus_url)}"
    if _numbers(version) < REDIS_MINIMUM:
        wanted = ".".join(map(str, REDIS_MINIMUM))
        return Finding(
            "FAIL",
            "redis",
            f"{server} is too old for the bus: {wanted} or later (streams came in 5.0, "
            f"and the client speaks RESP3, which came in 6.0)",
        )
    if str(info.get("cluster_enabled", "0")) == "1":
        return Finding(
            "FAIL",
            "redis",
            f"{server} is a Redis Cluster node: the bus reads many agents' streams in one "
            f"XREAD, which a cluster refuses across hash slots. Use one Redis (with a replica "
            f"for failover)",
        )
    if info.get("role", "master") != "master":
        primary = f"{info.get('master_host', '?')}:{info.get('master_port', '?')}"
        return Finding(
            "FAIL",
            "redis",
            f"{server} is a replica (of {primary}): what the nodes write must reach the "
            f"primary. Point SOFTPHONE_BUS_URL at the primary's address",
        )
    refused = await _try_the_bus(bus_url) or await _try_the_line(bus_url)
    if refused:
        return Finding("FAIL", "redis", f"{server} refuses what the bus does: {refused}")
    policy = str(info.get("maxmemory_policy", "noeviction"))
    if policy.startswith("allkeys-"):
        return Finding(
            "WARN",
            "redis",
            f"{server}: the bus works, but maxmemory-policy {policy} lets a full Redis evict "
            f"any key, the agents' last sequence numbers too, and after a takeover pages "
            f"would take new events for old ones. Use noeviction or a volatile-* policy",
        )
    return Finding("PASS", "redis", f"{server}: the bus's streams and scripts work")


async def _try_the_bus(bus_url: str) -> str:
    """Publish, read back, replay and refuse a stale number through the bus's own backend, on
    keys under a prefix of the doctor's own, deleted afterwards. "" when all of it worked,
    else the step that failed and Redis's answer."""
    prefix = f"{_prefix(bus_url)}doctor-{secrets.token_hex(6)}:"
    received: asyncio.Queue[bytes] = asyncio.Queue()
    backend = RedisBackend(
        _with_prefix(bus_url, prefix), lambda _channel, payload: received.put_nowait(payload)
    )
    step = "connecting"
    try:
        async with asyncio.timeout(4 * TIMEOUT):
            await backend.start()
            step = "listening"
            await backend.listen("probe")
            step = "publishing (a script that runs XADD with MAXLEN)"
            await backend.publish("probe", 1, b"probe")
            step = "reading it back (XREAD BLOCK)"
            if await received.get() != b"probe":
                return f"{step}: another entry came back"
            step = "replaying it (XRANGE)"
            if await backend.history("probe", 0) != (1, [b"probe"]):
                return f"{step}: the entry is missing"
            step = "refusing a number already given"
            with contextlib.suppress(StaleSequence):
                await backend.publish("probe", 1, b"again")
                return f"{step}: it was published twice"
    except (RedisError, OSError, TimeoutError) as exc:
        return f"{step}: {exc or type(exc).__name__}"
    finally:
        with contextlib.suppress(RedisError, OSError, TimeoutError):
            await backend.aclose()
        await _delete_under(bus_url, prefix)
    return ""


async def _try_the_line(bus_url: str) -> str:
    """A message published and heard on a channel under the cluster's prefix: how a node asks
    the link holder (an ACL user's channel patterns must allow it). "" when it worked."""
    channel = f"{_prefix(bus_url)}doctor-{secrets.token_hex(6)}:line"
    client = aioredis.Redis.from_url(_base(bus_url), socket_timeout=TIMEOUT)
    listening: Any = client.pubsub(ignore_subscribe_messages=True)  # redis-py's PubSub
    step = "subscribing (SUBSCRIBE, the line to the link holder)"
    try:
        async with asyncio.timeout(2 * TIMEOUT):
            await listening.subscribe(channel)
            step = "publishing on the line (PUBLISH)"
            if await client.publish(channel, b"probe") < 1:
                return f"{step}: nobody heard it"
            step = "hearing it"
            while (message := await listening.get_message(timeout=TIMEOUT)) is None:
                pass
            if message["data"] != b"probe":
                return f"{step}: another message came"
    except (RedisError, OSError, TimeoutError) as exc:
        return f"{step}: {exc or type(exc).__name__}"
    finally:
        with contextlib.suppress(RedisError, OSError, TimeoutError):
            await listening.aclose()
            await client.aclose()
    return ""


async def _delete_under(bus_url: str, prefix: str) -> None:
    client = aioredis.Redis.from_url(_base(bus_url), socket_timeout=TIMEOUT)
    with contextlib.suppress(RedisError, OSError):
        async for key in client.scan_iter(match=f"{_glob_escaped(prefix)}*", count=1000):
            await client.delete(key)
    with contextlib.suppress(RedisError, OSError):
        await client.aclose()


async def probe_postgres(database_url: str) -> Finding:
    """Version, and an advisory lock taken and given back (what the link lease needs)."""
    try:
        conn = await asyncpg.connect(asyncpg_dsn(database_url), timeout=TIMEOUT)
    except (OSError, TimeoutError, asyncpg.PostgresError, ValueError) as exc:
        return Finding("FAIL", "postgresql", f"cannot reach the cluster's database: {exc}")
    try:
        version = str(await conn.fetchval("SHOW server_version"))
        version_num = int(await conn.fetchval("SHOW server_version_num"))
        probe = lock_key("doctor probe")
        locked = await conn.fetchval("SELECT pg_try_advisory_lock($1)", probe)
        await conn.execute("SELECT pg_advisory_unlock($1)", probe)
        holder = await _lease_holder(conn)
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        return Finding("FAIL", "postgresql", f"connected, but a query failed: {exc}")
    finally:
        with contextlib.suppress(OSError, TimeoutError, asyncpg.PostgresError):
            await asyncio.wait_for(conn.close(), TIMEOUT)
    if version_num < POSTGRES_MINIMUM:
        return Finding(
            "FAIL",
            "postgresql",
            f"PostgreSQL {version} is too old for the store: 9.6 or later (INSERT ... ON "
            f"CONFLICT and SKIP LOCKED came in 9.5; SQLAlchemy supports 9.6 on)",
        )
    if not locked:
        return Finding("FAIL", "postgresql", "advisory locks refused: the link lease needs them")
    return Finding("PASS", "postgresql", f"PostgreSQL {version}, advisory locks work; {holder}")


async def link_holder(settings: Settings) -> str:
    """In cluster mode, the node holding the PBX link now ("" when none, or a single node)."""
    if not settings.bus_url.startswith("redis:") or settings.database_url.startswith("sqlite"):
        return ""
    return await holding_node(settings.database_url)


async def holding_node(database_url: str) -> str:
    """The node that holds the link lease now; "" when none does, or when the cluster's
    database cannot say."""
    try:
        conn = await asyncpg.connect(asyncpg_dsn(database_url), timeout=TIMEOUT)
    except (OSError, TimeoutError, asyncpg.PostgresError, ValueError):
        return ""
    try:
        row, held = await _lease(conn)
    except (OSError, TimeoutError, asyncpg.PostgresError):
        return ""
    finally:
        with contextlib.suppress(OSError, TimeoutError, asyncpg.PostgresError):
            await asyncio.wait_for(conn.close(), TIMEOUT)
    return str(row["holder"]) if row is not None and held else ""


async def _lease_holder(conn: asyncpg.Connection) -> str:
    row, held = await _lease(conn)
    if row is None:
        return "no node has held the link yet"
    taken = f"token {row['token']}, since {row['since']:%Y-%m-%d %H:%M:%S %Z}"
    if held:
        return f"the link lease is held by {row['holder']} ({taken})"
    return f"nobody holds the link lease now (last {row['holder']}, {taken})"


async def _lease(conn: asyncpg.Connection) -> tuple[asyncpg.Record | None, bool]:
    """The lease's row (its last taker) and whether its lock is held now."""
    exists = await conn.fetchval("SELECT to_regclass('softphone_link_lease') IS NOT NULL")
    if not exists:
        return None, False
    row = await conn.fetchrow(
        "SELECT holder, token, since FROM softphone_link_lease WHERE name = 'link'"
    )
    if row is None:
        return None, False
    # A bigint advisory key shows in pg_locks as its two 32-bit halves.
    key = lock_key("link") & 0xFFFFFFFFFFFFFFFF
    held = await conn.fetchval(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
        " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        " AND classid = $1 AND objid = $2 AND objsubid = 1",
        key >> 32,
        key & 0xFFFFFFFF,
    )
    return row, bool(held)


def _numbers(version: str) -> tuple[int, ...]:
    parts = []
    for part in version.split(" ")[0].split("."):
        digits = "".join(c for c in part if c.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def _base(bus_url: str) -> str:
    """The bus URL without its query: redis-py refuses parameters it does not know."""
    return bus_url.split("?", 1)[0]


def _prefix(bus_url: str) -> str:
    return parse_qs(urlsplit(bus_url).query).get("prefix", [""])[-1]


def _with_prefix(bus_url: str, prefix: str) -> str:
    parts = urlsplit(bus_url)
    kept = [(k, v) for k, vs in parse_qs(parts.query).items() if k != "prefix" for v in vs]
    return urlunsplit(parts._replace(query=urlencode([*kept, ("prefix", prefix)])))


def _glob_escaped(text: str) -> str:
    """`text` as a literal inside a SCAN MATCH pattern."""
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in text)


def _where(url: str) -> str:
    """host:port/db of a Redis URL, without any password in it."""
    rest = url.split("://", 1)[-1].split("?", 1)[0]
    return rest.rpartition("@")[2]
