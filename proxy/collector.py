"""Garbage collection for a process holding thousands of long-lived sockets.

Each open socket keeps a few hundred objects alive for hours. CPython's full collection walks
every one of them, and while agents connect it runs again each time the long-lived objects grow
by a quarter: at 4,000 sockets that froze the event loop for 1.2 s, again and again, and every
ring waited (measured on this project's proxy; see issue 16). So once a second the young
generations are collected (cheap: they are small) and whatever survived is frozen, moved where
collections never look. A full collection then only walks what is younger than a second.

Frozen objects are still freed by reference counting; only a reference cycle among them that
becomes garbage later is kept (about 6 objects per socket that closes, measured). That is
reclaimed by an ordinary full collection, run only when no call is ringing or in progress, the
frozen set grew by a quarter, and a quarter of an hour has passed since the last (or the
start): the one long pause falls when nobody is on a call, and not while a shift signs in.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Callable

from proxy.seams import BackgroundLoop, Resource

log = logging.getLogger(__name__)
FREEZE_EVERY_SECONDS = 1.0
RECLAIM_GROWTH = 1.25
# At most one reclaim this often, never sooner after start: a shift's sockets arrive over
# minutes, and each reclaim walks all of them.
RECLAIM_INTERVAL_SECONDS = 900.0


class Collector(Resource):
    def __init__(
        self,
        quiet: Callable[[], bool],
        *,
        every: float = FREEZE_EVERY_SECONDS,
        reclaim_interval: float = RECLAIM_INTERVAL_SECONDS,
        stalled: Callable[[float], None] = lambda seconds: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.quiet = quiet  # no call ringing or in progress: a long pause hurts nobody now
        self.every = every
        self.reclaim_interval = reclaim_interval
        self.stalled = stalled
        self.clock = clock
        self.reclaims = 0
        self._baseline = 0
        self._reclaimed_at = clock()
        self._loop = BackgroundLoop("garbage collection", self._step, log=log)

    async def start(self) -> None:
        # What startup built (modules, schemas, the app) lives as long as the process.
        gc.collect()
        gc.freeze()
        self._baseline = gc.get_freeze_count()
        await self._loop.start()

    async def aclose(self) -> None:
        await self._loop.aclose()
        gc.unfreeze()  # hand everything back, for whatever runs after us in this process

    async def _step(self) -> None:
        await asyncio.sleep(self.every)
        gc.collect(1)
        gc.freeze()
        if self._reclaim_due() and self.quiet():
            self.reclaim()

    def _reclaim_due(self) -> bool:
        grown = gc.get_freeze_count() > self._baseline * RECLAIM_GROWTH
        return grown and self.clock() - self._reclaimed_at >= self.reclaim_interval

    def reclaim(self) -> int:
        """One full collection over everything, frozen included; the unreachable found."""
        started = time.perf_counter()
        gc.unfreeze()
        found = gc.collect()
        gc.freeze()
        self._baseline = gc.get_freeze_count()
        self._reclaimed_at = self.clock()
        self.reclaims += 1
        seconds = time.perf_counter() - started
        self.stalled(seconds)
        log.info("full collection while no call is on: %d unreachable, %.2f s", found, seconds)
        return found
