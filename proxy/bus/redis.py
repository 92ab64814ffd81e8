"""`redis://host:port/db?prefix=P&history=N`: the bus between proxy nodes, on Redis streams.

Why streams and not pub/sub. Pub/sub delivers to whoever is connected at that instant and
keeps nothing: a node that loses its Redis connection for a second loses that second's events
for good, and a page that reconnects to another node has nothing to resume from but a snapshot.
A stream per agent gives, with one engine:

- order: one key per agent, and entries are appended to it atomically, so every node reads the
  agent's events in the order they were published;
- numbers assigned once: the entry's ID is the sequence number the producer gave it
  (`<seq>-0`), and a Lua script refuses a number that is not above the agent's last one
  (`StaleSequence`): an event is never numbered twice, even by two nodes that both believe
  they produce this agent's events (the old link holder after a takeover);
- a replay any node can read: the stream keeps the agent's last `history` entries (exact
  MAXLEN, default 128) and expires a day after the agent's last event, so a page that reconnects
  to any node resumes from its last number with the entries after it (the facade checks they
  are all there, each once), or gets a snapshot when they are not: no pop lost or doubled;
- a node that reconnects to Redis goes on from the last entry it read, not from "now".

The agent's last number lives in a hash without expiry (one field per agent), so the numbering
goes on after an idle agent's stream expired, and a new link holder continues it.

Each node reads every stream it has a subscriber for with one blocking XREAD on its own
connection, from the cursor taken when it began to listen. A channel added while the XREAD
blocks wakes it through the node's own wake stream. XREAD's cost grows with the number of keys
it names, which is the agents with a socket on this node. Redis Cluster is not supported (XREAD
over many keys must stay in one slot): use one Redis, with a replica and Sentinel for failover.

The backend only moves and keeps bytes; the facade (bus/broadcast.py) reads them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from proxy.bus.base import Deliver, StaleSequence
from proxy.bus.memory import history_length
from proxy.seams import BackgroundLoop, Resource

log = logging.getLogger(__name__)

HISTORY = 128
STREAM_TTL = 24 * 3600  # an agent with no event for a day resumes from a snapshot
BLOCK_MS = 5000  # one XREAD waits this long for news; the wake stream cuts it short
READ_COUNT = 256  # entries per stream per XREAD: a burst is read in a few round trips
COMMAND_TIMEOUT = 5.0

# Appends one payload if its number is above the agent's last, atomically with the number.
# KEYS: the agent's stream, the hash of last numbers; ARGV: agent, seq, payload, maxlen, ttl.
_PUBLISH = """
local last = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
if tonumber(ARGV[2]) <= last then return last end
redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[4], ARGV[2] .. '-0', 'p', ARGV[3])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return -1
"""


_XReadReply = list[tuple[bytes, list[tuple[bytes, dict[bytes, bytes]]]]]


@dataclass
class _Cursor:
    key: bytes
    last_id: bytes  # the ID of the last entry this node read from the stream


class RedisBackend(Resource):
    def __init__(self, url: str, deliver: Deliver) -> None:
        self.deliver = deliver
        params = parse_qs(urlsplit(url).query)
        self.prefix = params.get("prefix", [""])[-1]
        self.history_length = history_length(url, HISTORY)
        self.redis_url = _without_params(url, ("prefix", "history"))
        self._seqs_key = f"{self.prefix}bus:seq"
        self.node = secrets.token_hex(8)  # this process, among the bus's readers
        self._wake_key = f"{self.prefix}bus:wake:{self.node}".encode()
        self._wake_id = b"0-0"
        self._wake_pending = False
        self._closing = False
        self._reader_done = asyncio.Event()
        self._cursors: dict[str, _Cursor] = {}
        self._order = _ChannelLocks()
        self._redis: aioredis.Redis | None = None
        self._reader: aioredis.Redis | None = None
        self._loop = BackgroundLoop(
            "redis bus reader", self._read, log=log, first_backoff=0.1, max_backoff=2.0
        )

    async def start(self) -> None:
        self._redis = aioredis.Redis.from_url(self.redis_url, socket_timeout=COMMAND_TIMEOUT)
        # The reader's XREAD blocks for BLOCK_MS: its socket waits longer before giving up.
        # Named, so an admin's CLIENT LIST shows which connection is which node's reader.
        self._reader = aioredis.Redis.from_url(
            self.redis_url,
            socket_timeout=COMMAND_TIMEOUT + BLOCK_MS / 1000,
            client_name=f"{self.prefix}bus-reader-{self.node}",
        )
        self._publish = self._redis.register_script(_PUBLISH)
        await self._redis.ping()  # a bus that cannot reach Redis stops the start, saying why
        await self._loop.start()

    async def aclose(self) -> None:
        # The reader is asked to stop and woken, not cancelled: cancelling redis-py in the
        # middle of a blocking XREAD can leave the task waiting on its connection for good.
        self._closing = True
        if self._loop.running:
            with contextlib.suppress(RedisError, OSError):
                await self._wake()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._reader_done.wait(), COMMAND_TIMEOUT + BLOCK_MS / 1000)
        await self._loop.aclose()
        for client in (self._redis, self._reader):
            if client is not None:
                with contextlib.suppress(RedisError, OSError):
                    if client is self._redis:
                        await client.delete(self._wake_key)
                await client.aclose()
        self._redis = self._reader = None

    async def listen(self, channel: str) -> None:
        last = await self._command().hget(self._seqs_key, channel)
        start = f"{int(last)}-0" if last else "0-0"
        self._cursors[channel] = _Cursor(self._stream_key(channel), start.encode())
        if not self._wake_pending:
            # The reader reads the cursors anew on every XREAD: wake the one blocking now.
            self._wake_pending = True
            await self._wake()

    async def unlisten(self, channel: str) -> None:
        # The XREAD blocking now may still return this channel's entries: the facade drops
        # them, as it has no subscriber for it.
        self._cursors.pop(channel, None)

    async def publish(self, channel: str, seq: int, payload: bytes) -> None:
        # One at a time per channel, in the order asked (the lock is taken before any await):
        # two on separate pool connections could reach Redis the other way round, and the
        # script would refuse the lower number as stale.
        async with self._order.hold(channel):
            await self._append(channel, seq, payload)

    async def _append(self, channel: str, seq: int, payload: bytes) -> None:
        keys: list[bytes | str] = [self._stream_key(channel), self._seqs_key]
        args: list[bytes | str | int] = [channel, seq, payload, self.history_length, STREAM_TTL]
        refused = int(await self._publish(keys=keys, args=args))
        if refused >= 0:
            raise StaleSequence(f"{channel}: seq {seq} is not after {refused}, already published")

    async def last_seq(self, channel: str) -> int:
        last = await self._command().hget(self._seqs_key, channel)
        return int(last) if last else 0

    async def history(self, channel: str, after: int) -> tuple[int, list[bytes]]:
        # Read in one transaction, so the last number and the entries agree.
        async with self._command().pipeline(transaction=True) as pipe:
            pipe.hget(self._seqs_key, channel)
            pipe.xrange(self._stream_key(channel), min=f"{after + 1}-0")
            last, entries = await pipe.execute()
        return (int(last) if last else 0), [fields[b"p"] for _, fields in entries]

    async def _read(self) -> None:
        """One XREAD over the wake stream and every listened stream, delivered in order."""
        assert self._reader is not None
        if self._closing:
            self._reader_done.set()
            raise StopAsyncIteration
        reading = {cursor.key: (channel, cursor) for channel, cursor in self._cursors.items()}
        streams: dict[Any, Any] = {self._wake_key: self._wake_id}
        streams.update({key: cursor.last_id for key, (_, cursor) in reading.items()})
        self._wake_pending = False
        reply = await self._reader.xread(streams, count=READ_COUNT, block=BLOCK_MS)
        for key, entries in cast(_XReadReply, reply or []):
            if key == self._wake_key:
                self._wake_id = entries[-1][0]
                continue
            channel, cursor = reading[key]
            for entry_id, fields in entries:
                cursor.last_id = entry_id
                # A channel dropped (or dropped and taken up again) meanwhile is not ours.
                if self._cursors.get(channel) is cursor:
                    self.deliver(channel, fields[b"p"])

    async def _wake(self) -> None:
        async with self._command().pipeline(transaction=False) as pipe:
            pipe.xadd(self._wake_key, {"w": b""}, maxlen=1)
            pipe.expire(self._wake_key, STREAM_TTL)
            await pipe.execute()

    def _stream_key(self, channel: str) -> bytes:
        return f"{self.prefix}bus:agent:{channel}".encode()

    def _command(self) -> aioredis.Redis:
        if self._redis is None:
            raise RuntimeError("the redis bus is not started")
        return self._redis


class _ChannelLocks:
    """A lock per channel while someone holds or waits for it (not one per agent forever)."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, channel: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(channel) or (asyncio.Lock(), 0)
        self._locks[channel] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[channel]
            if users == 1:
                del self._locks[channel]
            else:
                self._locks[channel] = (lock, users - 1)


def _without_params(url: str, names: tuple[str, ...]) -> str:
    """`url` without our own query parameters (redis-py refuses unknown ones)."""
    parts = urlsplit(url)
    kept = [(k, v) for k, vs in parse_qs(parts.query).items() if k not in names for v in vs]
    return urlunsplit(parts._replace(query=urlencode(kept)))
