"""Retention: interaction records older than the configured days are purged once a day."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from proxy.seams import BackgroundLoop, Resource
from proxy.store import PurgeCounts, Store

log = logging.getLogger(__name__)
DAY = 86400.0


class Retention(Resource):
    def __init__(
        self,
        store: Store,
        days: float,
        *,
        every_seconds: float = DAY,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.days = days
        self.every_seconds = every_seconds
        self.clock = clock
        # A failed purge is tried again a whole period later, like a good one: no backoff
        # shorter than the period, so a broken store is not hammered with purges.
        self._loop = BackgroundLoop(
            "retention purge",
            self._pass,
            log=log,
            first_backoff=every_seconds,
            max_backoff=every_seconds,
        )

    async def start(self) -> None:
        await self._loop.start()

    async def aclose(self) -> None:
        await self._loop.aclose()

    async def purge_now(self) -> PurgeCounts:
        now = self.clock()
        counts = await self.store.purge(before=now - self.days * DAY, now=now)
        log.info(
            "retention (%g days): purged %d history, %d call logs, %d Task rows, %d sessions",
            self.days,
            counts.history,
            counts.call_logs,
            counts.outbox,
            counts.sessions,
        )
        return counts

    async def _pass(self) -> None:
        await self.purge_now()
        await asyncio.sleep(self.every_seconds)
