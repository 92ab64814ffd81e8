"""The outbox drained pass by pass, for each kind of Salesforce write (Tasks, VoiceCalls).

A pass writes what is due; when nothing more is due straight away, the drainer sleeps until new
rows are queued (`wake`), a failed row's retry is due (`retry_at`), or the poll. A pass that
fails (the store or Salesforce down) is retried after a backoff, or at once on `wake`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable

from proxy.seams import BackgroundLoop, Resource


class OutboxDrainer(Resource):
    def __init__(
        self,
        name: str,
        *,
        poll_seconds: float,
        log: logging.Logger,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.poll_seconds = poll_seconds
        self.clock = clock
        self._wake = asyncio.Event()
        self._soonest = math.inf
        self._loop = BackgroundLoop(
            name, self._pass, log=log, first_backoff=poll_seconds, wake=self._wake
        )

    async def start(self) -> None:
        await self._loop.start()

    async def aclose(self) -> None:
        await self._loop.aclose()

    def wake(self) -> None:
        """New rows are queued: write them now rather than at the next poll."""
        self._wake.set()

    def retry_at(self, when: float) -> None:
        """A row failed and is due again at `when`: the drainer wakes up by then."""
        self._soonest = min(self._soonest, when)

    async def drain_once(self) -> bool:
        """Write the rows due now; True when there may be more due straight away."""
        raise NotImplementedError

    async def _pass(self) -> None:
        if await self.drain_once():
            return
        wait = min(self.poll_seconds, self._soonest - self.clock())
        self._soonest = math.inf
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), max(wait, 0.01))
