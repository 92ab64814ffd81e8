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
from collections.abc import Callable

from proxy.seams import BackgroundLoop


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
        self._window_max = 0.0  # the window being filled
        self._last_window_max = 0.0  # the one before it
        self._window_ends = 0.0

    @property
    def longest_recent_stall(self) -> float:
        """Seconds: the longest stall seen in this window or the one before it."""
        return max(self._window_max, self._last_window_max)

    async def _tick(self) -> None:
        clock = asyncio.get_running_loop().time
        due = clock() + self.tick
        await asyncio.sleep(self.tick)
        now = clock()
        late = max(0.0, now - due)
        self.observe(late)
        self._window_max = max(self._window_max, late)
        if now >= self._window_ends:
            self._last_window_max, self._window_max = self._window_max, 0.0
            self._window_ends = now + self.window
