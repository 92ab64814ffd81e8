"""The event-loop stall monitor: how late a periodic tick wakes is how long the loop was held.

Every agent's events go through one event loop, so anything that holds it (a long render, a
full garbage collection, a synchronous call) delays every ring on the node at once. A task
that sleeps `tick` seconds and looks at the clock when it wakes sees exactly that delay, for
the cost of a few wake-ups a second.

Each tick's lateness goes to a histogram; the longest one is also kept per window, so a scrape
(the bench polls during each phase) reads the worst stall of the last one or two windows.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import NamedTuple

from proxy.seams import BackgroundLoop


class Stall(NamedTuple):
    seconds: float  # how late the tick woke
    cpu_seconds: float  # CPU the loop's thread used meanwhile: the rest it waited (core, GIL)


NO_STALL = Stall(0.0, 0.0)


class LoopWatch(BackgroundLoop):
    """Measures the running loop's stalls; `observe` gets each tick's lateness in seconds."""

    def __init__(
        self,
        observe: Callable[[float], None],
        *,
        tick: float = 0.05,
        window: float = 1.0,
    ) -> None:
        super().__init__("event-loop watch", self._tick)
        self.observe = observe
        self.tick = tick
        self.window = window
        self._window_max = NO_STALL  # the window being filled
        self._last_window_max = NO_STALL  # the one before it
        self._window_ends = 0.0

    @property
    def longest_recent_stall(self) -> Stall:
        """The longest stall seen in this window or the one before it."""
        return max(self._window_max, self._last_window_max)

    async def _tick(self) -> None:
        clock = asyncio.get_running_loop().time
        due = clock() + self.tick
        # Whether a stall was the loop's own work (blocking code, a collection) or a wait for
        # a core or the GIL is told by the CPU its thread used meanwhile.
        cpu_before = time.thread_time()
        await asyncio.sleep(self.tick)
        now = clock()
        stall = Stall(max(0.0, now - due), time.thread_time() - cpu_before)
        self.observe(stall.seconds)
        self._window_max = max(self._window_max, stall)
        if now >= self._window_ends:
            self._last_window_max, self._window_max = self._window_max, NO_STALL
            self._window_ends = now + self.window
