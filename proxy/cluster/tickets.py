"""Single-use tickets with an expiry, seen by every node: what one request leaves for a later
one that may reach another node behind the balancer ("Sign in with Salesforce" leaves its PKCE
verifier at /sso/start for the callback).

- `LocalTickets` (one node, `memory://` bus): a bounded dict in this process.
- `RedisTickets` (`redis://` bus, the same Redis and prefix): a key with an expiry, taken once
  by a script that reads and deletes it in one step, so two nodes can never both take it.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from typing import Any, Protocol
from urllib.parse import urlsplit

from proxy.cluster.shared import SharedOnRedis
from proxy.seams import AsyncResource, Resource

_TAKE = """
local value = redis.call('GET', KEYS[1])
if value then redis.call('DEL', KEYS[1]) end
return value
"""


class Tickets(AsyncResource, Protocol):
    async def put(self, key: str, value: dict[str, Any], ttl: float) -> None: ...

    async def take(self, key: str) -> dict[str, Any] | None:
        """The value left under `key`, once: None when unknown, taken or expired."""
        ...


class LocalTickets(Resource):
    def __init__(self, limit: int = 1000) -> None:
        self.limit = limit
        self._kept: OrderedDict[str, tuple[dict[str, Any], float]] = OrderedDict()

    async def put(self, key: str, value: dict[str, Any], ttl: float) -> None:
        now = time.monotonic()
        while self._kept and (
            len(self._kept) >= self.limit or next(iter(self._kept.values()))[1] < now
        ):
            self._kept.popitem(last=False)
        self._kept[key] = (value, now + ttl)

    async def take(self, key: str) -> dict[str, Any] | None:
        found = self._kept.pop(key, None)
        if found is None or found[1] < time.monotonic():
            return None
        return found[0]


class RedisTickets(SharedOnRedis):
    def __init__(self, url: str, kind: str) -> None:
        super().__init__(url)
        self.kind = kind

    async def start(self) -> None:
        await super().start()
        self._take = self._client().register_script(_TAKE)

    async def put(self, key: str, value: dict[str, Any], ttl: float) -> None:
        await self._client().set(self._key(key), json.dumps(value), px=max(int(ttl * 1000), 1))

    async def take(self, key: str) -> dict[str, Any] | None:
        raw = await self._take(keys=[self._key(key)])
        if raw is None:
            return None
        value: dict[str, Any] = json.loads(raw)
        return value

    def _key(self, key: str) -> str:
        return f"{self.prefix}ticket:{self.kind}:{key}"


def open_tickets(bus_url: str, kind: str) -> Tickets:
    """Shared through Redis when the bus is (cluster mode), else this process's own."""
    if urlsplit(bus_url).scheme == "redis":
        return RedisTickets(bus_url, kind)
    return LocalTickets()
