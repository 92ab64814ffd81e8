"""Admission for costly openings (an agent's socket reading its session and desk): a bounded
number at once, a bounded number waiting, and a plain "busy, retry in N s" beyond that.

After a restart every page reconnects within seconds. Without a bound, each opening's database
reads queue behind all the others' and every page waits; with one, the pages past the queue are
told to come back later (the socket's 1013 with a delay, spread by the pages' own jitter) and
the ones admitted are served at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from proxy.errors import ProxyError

# How long a page told "busy" waits before trying again (plus up to a second of jitter).
BUSY_RETRY_SECONDS = 3


class Busy(ProxyError):
    """Every place, running and waiting, is taken: try again after `retry_after` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"busy; retry after {retry_after} s")
        self.retry_after = retry_after


class Admission:
    def __init__(self, at_once: int = 32, waiting: int = 512) -> None:
        self._running = asyncio.Semaphore(at_once)
        self.capacity = at_once + waiting
        self.taken = 0

    @asynccontextmanager
    async def enter(self) -> AsyncIterator[None]:
        """Hold one place while the body runs; raises `Busy` when none is free."""
        give_back = await self.take()
        try:
            yield
        finally:
            give_back()

    async def take(self) -> Callable[[], None]:
        """Take one place, waiting while every running one is taken; raises `Busy` when none
        is free. What it returns gives the place back (once: calling it again does nothing).
        A socket holds it until its welcome is out: a closure, not a context stack, as the
        socket keeps it for hours (issue 16)."""
        if self.taken >= self.capacity:
            raise Busy(BUSY_RETRY_SECONDS)
        self.taken += 1
        try:
            await self._running.acquire()
        except BaseException:
            self.taken -= 1
            raise
        held = True

        def give_back() -> None:
            nonlocal held
            if held:
                held = False
                self._running.release()
                self.taken -= 1

        return give_back
