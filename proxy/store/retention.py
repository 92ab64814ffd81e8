"""Retention: interaction records older than the configured days are purged once a day."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from proxy.seams import Resource
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
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="retention")

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

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

    async def _run(self) -> None:
        while True:
            try:
                await self.purge_now()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("retention purge failed; trying again next time")
            await asyncio.sleep(self.every_seconds)
