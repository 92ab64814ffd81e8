"""The one shape of the small pieces of cluster state kept on the cluster's Redis (shared
answers, tickets, calls' facts, the API budget): where Redis is, the prefix of their keys,
and one client, opened at start and closed with them."""

from __future__ import annotations

import redis.asyncio as aioredis

from proxy.cluster import redis_address
from proxy.seams import Resource

COMMAND_TIMEOUT = 2.0


class SharedOnRedis(Resource):
    def __init__(self, url: str) -> None:
        self.redis_url, self.prefix = redis_address(url)
        self._redis: aioredis.Redis | None = None

    async def start(self) -> None:
        self._redis = aioredis.Redis.from_url(self.redis_url, socket_timeout=COMMAND_TIMEOUT)

    async def aclose(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None

    def _client(self) -> aioredis.Redis:
        if self._redis is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return self._redis
