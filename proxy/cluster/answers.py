"""Answers shared by the nodes of a cluster: a Salesforce lookup asked on several nodes at once
costs one API call, and its answer serves every node for its cache time.

`SharedAnswers.answer(key, ttl, load)` returns the answer kept for `key`, or runs `load()` once
among everyone asking for `key` at that moment and keeps what it returns for `ttl` seconds.

- `LocalAnswers` (one node, `memory://` bus): just runs `load()`. The caller's own cache and
  in-flight sharing already make one call per process, and that is the whole cluster.
- `RedisAnswers` (`redis://` bus, the same Redis and prefix): the first asker takes a short
  lock key (SET NX with an expiry) and loads; the others wait for the answer key to appear,
  then read it. A loader that dies leaves its lock to expire, and the next asker loads. If Redis
  is out of reach the lookup goes straight to Salesforce: an extra API call beats no pop.

Values are JSON: Salesforce records as the REST API returns them.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol
from urllib.parse import urlsplit

from redis.exceptions import RedisError

from proxy.cluster.shared import SharedOnRedis
from proxy.seams import AsyncResource, Resource

log = logging.getLogger(__name__)

Load = Callable[[], Awaitable[Any]]
# The longest a load may take before another node may try in its place (a Salesforce call
# times out well before this), and how often a waiting node looks for the answer.
LOCK_SECONDS = 30.0
POLL_SECONDS = 0.05
# An answer not to be cached (ttl 0) is still kept this long, for the nodes waiting on it.
HANDOVER_SECONDS = 5.0

# Deletes the lock only if it is still this loader's (it may have expired and been retaken).
_UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class SharedAnswers(AsyncResource, Protocol):
    async def answer(self, key: str, ttl: float, load: Load) -> Any:
        """The answer kept for `key`, or `load()`'s, run once among all asking now."""
        ...


class LocalAnswers(Resource):
    async def answer(self, key: str, ttl: float, load: Load) -> Any:
        return await load()


class RedisAnswers(SharedOnRedis):
    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.owner = secrets.token_hex(8)  # whose lock it is

    async def start(self) -> None:
        await super().start()
        self._unlock = self._client().register_script(_UNLOCK)

    async def answer(self, key: str, ttl: float, load: Load) -> Any:
        assert self._redis is not None
        digest = hashlib.sha256(key.encode()).hexdigest()
        answer_key = f"{self.prefix}answer:{digest}"
        lock_key = f"{self.prefix}answer-lock:{digest}"
        try:
            return await self._shared(answer_key, lock_key, ttl, load)
        except RedisError as exc:
            log.warning("shared lookup cache unreachable, asking Salesforce directly: %s", exc)
            return await load()

    async def _shared(self, answer_key: str, lock_key: str, ttl: float, load: Load) -> Any:
        assert self._redis is not None
        deadline = time.monotonic() + LOCK_SECONDS
        while True:
            kept = await self._redis.get(answer_key)
            if kept is not None:
                return json.loads(kept)
            taken = await self._redis.set(lock_key, self.owner, nx=True, px=_ms(LOCK_SECONDS))
            if taken:
                return await self._load(answer_key, lock_key, ttl, load)
            if time.monotonic() > deadline:
                # The loader is gone and its lock outlived it: ask ourselves, unshared.
                return await load()
            await asyncio.sleep(POLL_SECONDS)

    async def _load(self, answer_key: str, lock_key: str, ttl: float, load: Load) -> Any:
        assert self._redis is not None
        try:
            # Looked for again under the lock: a loader keeps its answer before it lets go of
            # the lock, so one that finished between our first look and our taking the lock
            # has left the answer here (without this, two nodes could both ask Salesforce).
            kept = await self._redis.get(answer_key)
            if kept is not None:
                return json.loads(kept)
            value = await load()
            keep = ttl if ttl > 0 else HANDOVER_SECONDS
            with contextlib.suppress(RedisError):
                await self._redis.set(answer_key, json.dumps(value), px=_ms(keep))
            return value
        finally:
            # A failed load leaves no answer: the next asker takes the lock and tries.
            with contextlib.suppress(RedisError):
                await self._unlock(keys=[lock_key], args=[self.owner])


def open_answers(bus_url: str) -> SharedAnswers:
    """Shared through Redis when the bus is (cluster mode), else this process's own."""
    if urlsplit(bus_url).scheme == "redis":
        return RedisAnswers(bus_url)
    return LocalAnswers()


def _ms(seconds: float) -> int:
    return max(int(seconds * 1000), 1)
