"""The org's daily API budget as read by whichever node called Salesforce last.

Every Salesforce answer carries the org's API use so far today (`Sforce-Limit-Info`); a node
knows only what its own last answer said. In a cluster the link holder makes the lookups while
every node writes Tasks and searches, so each node's own reading falls behind the others'
calls. Each node puts its reading on the cluster's Redis when it changes and reads the newest
back, every `EVERY_SECONDS`: the budget floor (`SOFTPHONE_API_BUDGET_FLOOR`) is then checked
against the cluster's use, not one node's.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable

from proxy.cluster.shared import SharedOnRedis
from proxy.seams import BackgroundLoop

log = logging.getLogger(__name__)
EVERY_SECONDS = 2.0
# A reading older than this says little about today's use: the node's own is used instead.
STALE_SECONDS = 3600.0

Usage = tuple[int, int]  # (used, limit)


class SharedBudget(SharedOnRedis):
    def __init__(
        self, url: str, local: Callable[[], Usage | None], *, every: float = EVERY_SECONDS
    ) -> None:
        super().__init__(url)
        self.local = local
        self.every = every
        self._shared: tuple[Usage, float] | None = None
        self._sent: Usage | None = None
        self._loop = BackgroundLoop("shared API budget", self._step, log=log, max_backoff=10.0)

    async def start(self) -> None:
        await super().start()
        await self._loop.start()

    async def aclose(self) -> None:
        await self._loop.aclose()
        await super().aclose()

    def usage(self) -> Usage | None:
        """The newest reading of the org's use the cluster has, else this node's own."""
        mine = self.local()
        if self._shared is None:
            return mine
        shared, at = self._shared
        if time.time() - at > STALE_SECONDS or (mine is not None and mine[0] > shared[0]):
            return mine  # ours is newer: it goes out at the next step
        return shared

    async def _step(self) -> None:
        redis = self._client()
        key = f"{self.prefix}salesforce:api-usage"
        mine = self.local()
        if mine is not None and mine != self._sent:
            reading = {"used": mine[0], "limit": mine[1], "at": time.time()}
            await redis.set(key, json.dumps(reading), ex=int(STALE_SECONDS))
            self._sent = mine
        raw = await redis.get(key)
        if raw:
            reading = json.loads(raw)
            self._shared = ((int(reading["used"]), int(reading["limit"])), float(reading["at"]))
        await asyncio.sleep(self.every)
