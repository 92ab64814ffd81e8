"""Real Redis for the bus and cluster tests: each test gets a key prefix of its own on the local
server, and its keys are deleted afterwards; skipped if no Redis answers."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import redis.asyncio as aioredis
from redis.exceptions import RedisError

REDIS_URL = os.environ.get("SOFTPHONE_TEST_REDIS", "redis://127.0.0.1:6379/0")


@asynccontextmanager
async def redis_prefix() -> AsyncIterator[str]:
    """A fresh key prefix on the test Redis; every key under it is deleted at the end."""
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        await client.aclose()
        pytest.skip(f"Redis is not reachable at {REDIS_URL}: {exc}")
    prefix = f"softphone-test-{uuid.uuid4().hex[:12]}:"
    try:
        yield prefix
    finally:
        async for key in client.scan_iter(match=f"{prefix}*"):
            await client.delete(key)
        await client.aclose()


def redis_bus_url(prefix: str, **params: object) -> str:
    query = "&".join([f"prefix={prefix}", *(f"{k}={v}" for k, v in params.items())])
    return f"{REDIS_URL}?{query}"
