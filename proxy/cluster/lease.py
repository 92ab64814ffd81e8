"""The link lease: which one node of a cluster holds the PBX link, with a fencing token.

Most CTI servers accept one application session, so exactly one node may hold the link. The
lease is a PostgreSQL session-level advisory lock, held on a connection of its own:

- PostgreSQL lets go of it the moment the holder's session ends. A holder killed with
  `kill -9` has its socket closed by the kernel, its backend ends at once, and a contender
  blocked in `pg_advisory_lock` has the lock in the same instant; a holder cut off by the
  network is dropped by the server's TCP keepalives (set per session below: ~3 s).
- Each takeover bumps a counter in a one-row table, in the new holder's first transaction:
  the fencing token. Before every command it sends, the holder checks on the lease's own
  connection that the session is alive and the token is still its own (`fence()`); a holder
  whose session was ended, or whose token was overtaken, is refused (`LeaseLost`) and lets go.

Why PostgreSQL and not a Redis lock: the lock's life is the session's, decided by the server
that sees the socket close, with no TTL to tune against pauses (a Redis lock expires while its
holder is stalled in GC or swapped out, and the holder cannot tell), no clock in the decision,
and no failover that forgets a lock (Redis replication is asynchronous: a lock taken on a
primary that fails before replicating is lost, which is why Redlock needs five masters). The
database is already the cluster's source of truth, and the token lives in the same place as the
lock, so "held" and "current token" cannot disagree across two engines.

The fence check is a round trip to the database made just before a command goes to the PBX.
A pause between the check and the send could still let a command out after a takeover; the
PBX's own single-session rule closes that window (the new holder's session makes the PBX drop
the old one), and the new holder rebuilds calls from the PBX's snapshot anyway.

The token's table belongs to the lease, not to the store's schema: advisory locks exist only on
PostgreSQL, and the table is created by the first holder (under the lock, so never twice at once).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Callable
from typing import Any

import asyncpg

from proxy.errors import ProxyError
from proxy.seams import BackgroundLoop, Resource

log = logging.getLogger(__name__)

# How often the holder checks its lease when no command does it for it.
WATCH_SECONDS = 1.0
# A fence check slower than this (a database out of reach) counts as a lost lease.
FENCE_TIMEOUT = 1.0
CONNECT_TIMEOUT = 3.0
# The server drops a session whose peer stopped answering after ~1 + 2*1 s of silence.
_KEEPALIVES = {
    "tcp_keepalives_idle": "1",
    "tcp_keepalives_interval": "1",
    "tcp_keepalives_count": "2",
    # And one whose unacknowledged data waits 3 s at most (retransmissions, not keepalives, rule
    # a connection with data in flight when the network splits).
    "tcp_user_timeout": "3000",
}
_CREATE = """
CREATE TABLE IF NOT EXISTS softphone_link_lease (
    name text PRIMARY KEY,
    token bigint NOT NULL,
    holder text NOT NULL,
    since timestamptz NOT NULL
)"""
_TAKE_OVER = """
INSERT INTO softphone_link_lease (name, token, holder, since) VALUES ($1, 1, $2, now())
ON CONFLICT (name) DO UPDATE
    SET token = softphone_link_lease.token + 1, holder = EXCLUDED.holder, since = EXCLUDED.since
RETURNING token"""
_READ_FENCE = "SELECT token FROM softphone_link_lease WHERE name = $1"
# A blocked lock request gives up after 5 s and is made again, so a dead connection is noticed.
_CONTEND_TIMEOUT = "SET lock_timeout = '5s'"

Changed = Callable[[int | None], None]
_DB_ERRORS = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)


class LeaseLost(ProxyError):
    """This node does not hold the link lease (any more): it must not command the PBX."""


def asyncpg_dsn(database_url: str) -> str:
    """The asyncpg DSN of a SQLAlchemy PostgreSQL URL; anything else is refused, saying why."""
    scheme, sep, rest = database_url.partition("://")
    if not sep or scheme not in ("postgresql", "postgresql+asyncpg", "postgres"):
        raise ValueError(
            f"the link lease needs PostgreSQL (an advisory lock); SOFTPHONE_DATABASE_URL is "
            f"{scheme or database_url!r}"
        )
    return f"postgresql://{rest}"


def lock_key(name: str) -> int:
    """The advisory lock's 64-bit key for a lease name (stable across nodes and versions)."""
    digest = hashlib.sha256(f"softphone-proxy lease:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class LinkLease(Resource):
    """Contends for the lease until it holds it, watches it while held, contends again after.

    `on_change(token)` is called with the new token when this node takes the lease, and with
    None when it loses it; `fence()` is the check before every command.
    """

    def __init__(
        self,
        database_url: str,
        node: str,
        *,
        name: str = "link",
        on_change: Changed = lambda token: None,
    ) -> None:
        self.dsn = asyncpg_dsn(database_url)
        self.node = node
        self.name = name
        self.key = lock_key(name)
        self.on_change = on_change
        self.token: int | None = None
        self._conn: Any = None  # asyncpg.Connection (untyped library)
        self._using = asyncio.Lock()  # one query at a time on the lease's connection
        self._ended = asyncio.Event()  # the lease's connection closed under us
        self._held = asyncio.Event()
        self._loop = BackgroundLoop(
            f"link lease {name}", self._step, log=log, first_backoff=0.2, max_backoff=2.0
        )

    async def start(self) -> None:
        await self._loop.start()

    async def aclose(self) -> None:
        await self._loop.aclose()
        self._let_go("this node is stopping")
        await self._drop_connection()

    @property
    def held(self) -> bool:
        return self.token is not None

    async def wait_held(self) -> int:
        """The token, once this node holds the lease."""
        while self.token is None:
            await self._held.wait()
        return self.token

    async def fence(self) -> int:
        """The token, if this node still holds the lease now; else `LeaseLost` (and it lets go).

        Asked before every command to the PBX: it proves on the lease's own connection that
        the session (and so the lock) is alive and that no takeover has happened since."""
        token = self.token
        if token is None:
            raise LeaseLost(f"node {self.node} does not hold the {self.name} lease")
        try:
            async with self._using:
                # Checked again under the lock: a check queued behind one that failed must not
                # run on the connection a new contention has opened since.
                if self.token != token or self._conn is None:
                    raise LeaseLost(f"node {self.node} lost the {self.name} lease")
                current = await self._conn.fetchval(_READ_FENCE, self.name, timeout=FENCE_TIMEOUT)
        except LeaseLost:
            raise
        except Exception as exc:  # any failure to prove the lease fails closed
            await self._lose(f"its lease could not be checked: {exc!r}")
            raise LeaseLost(f"node {self.node} lost the {self.name} lease: {exc!r}") from None
        if current != token:
            await self._lose(f"token {token} was overtaken by {current}")
            raise LeaseLost(
                f"node {self.node} was fenced off the {self.name} lease: its token {token}, "
                f"the current one {current}"
            )
        return token

    async def _step(self) -> None:
        if self._conn is None or self._conn.is_closed():
            self._let_go("its database session ended")
            await self._connect()
        if self.token is None:
            await self._contend()
        else:
            await self._watch()

    async def _connect(self) -> None:
        self._ended.clear()
        self._conn = await asyncpg.connect(
            self.dsn, timeout=CONNECT_TIMEOUT, server_settings=_KEEPALIVES
        )
        self._conn.add_termination_listener(lambda _: self._ended.set())
        async with self._using:
            await self._conn.execute(_CONTEND_TIMEOUT)

    async def _contend(self) -> None:
        """Wait for the lock (PostgreSQL wakes us the instant its holder's session ends)."""
        try:
            async with self._using:
                await self._conn.execute("SELECT pg_advisory_lock($1)", self.key)
        except asyncpg.LockNotAvailableError:
            return  # still held elsewhere: ask again
        try:
            async with self._using, self._conn.transaction():
                await self._conn.execute(_CREATE)
                token = int(await self._conn.fetchval(_TAKE_OVER, self.name, self.node))
        except BaseException:
            await self._drop_connection()  # no lock held without a token
            raise
        self.token = token
        self._held.set()
        log.warning("node %s holds the %s lease, token %d", self.node, self.name, token)
        self.on_change(token)

    async def _watch(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ended.wait(), WATCH_SECONDS)
        with contextlib.suppress(LeaseLost):
            await self.fence()

    async def _lose(self, reason: str) -> None:
        # Letting go means ending the session: a lock still held by a node that was fenced
        # off would keep every other node waiting.
        self._let_go(reason)
        await self._drop_connection()

    def _let_go(self, reason: str) -> None:
        if self.token is None:
            return
        log.warning(
            "node %s lost the %s lease (token %d): %s", self.node, self.name, self.token, reason
        )
        self.token = None
        self._held.clear()
        self.on_change(None)

    async def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            with contextlib.suppress(*_DB_ERRORS):
                await asyncio.wait_for(conn.close(), FENCE_TIMEOUT)
            if not conn.is_closed():
                conn.terminate()
