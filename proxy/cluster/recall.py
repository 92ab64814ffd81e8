"""Calls' facts on the cluster's Redis (see proxy/agents/recall.py): one key per call, JSON,
deleted when the call ends and expiring after `KEEP_SECONDS` in case its end is never seen."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from redis.exceptions import RedisError

from proxy.cluster.shared import SharedOnRedis

log = logging.getLogger(__name__)
KEEP_SECONDS = 12 * 3600  # longer than any call


class RedisCallMemory(SharedOnRedis):
    async def remember(self, call_id: str, facts: dict[str, Any]) -> None:
        # A lost write costs a takeover's screen its timer or pop, never the call: not raised.
        with contextlib.suppress(RedisError, OSError):
            await self._client().set(self._key(call_id), json.dumps(facts), ex=KEEP_SECONDS)

    async def forget(self, call_id: str) -> None:
        with contextlib.suppress(RedisError, OSError):
            await self._client().delete(self._key(call_id))

    async def recall(self, call_ids: Sequence[str]) -> Mapping[str, dict[str, Any]]:
        if not call_ids:
            return {}
        try:
            values = await self._client().mget([self._key(c) for c in call_ids])
        except (RedisError, OSError) as exc:
            log.warning("calls' facts unreachable: rebuilt calls start afresh (%s)", exc)
            return {}
        found = {}
        for call_id, value in zip(call_ids, values, strict=True):
            if value:
                with contextlib.suppress(ValueError):
                    found[call_id] = json.loads(value)
        return found

    async def everything(self) -> Mapping[str, dict[str, Any]]:
        try:
            keys = [k async for k in self._client().scan_iter(match=self._key("*"), count=500)]
            values = await self._client().mget(keys) if keys else []
        except (RedisError, OSError) as exc:
            log.warning("calls' facts unreachable: ended calls stay on screens (%s)", exc)
            return {}
        prefix = len(self._key(""))
        found = {}
        for key, value in zip(keys, values, strict=True):
            if value:
                with contextlib.suppress(ValueError):
                    found[key.decode()[prefix:]] = json.loads(value)
        return found

    def _key(self, call_id: str) -> str:
        return f"{self.prefix}call:{call_id}"
