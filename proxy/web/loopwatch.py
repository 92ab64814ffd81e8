"""The event-loop stall monitor: how late a periodic tick wakes is how long the loop was held.

Every agent's events go through one event loop, so anything that holds it (a long render, a
full garbage collection, a synchronous call) delays every ring on the node at once. A task
that sleeps `tick` seconds and looks at the clock when it wakes sees exactly that delay, for
the cost of a few wake-ups a second.

Each tick's lateness goes to a histogram; the longest one is also kept per window, so a scrape
(the bench polls during each phase) reads the worst stall of the last one or two windows, with
what it was: the loop thread's own CPU meanwhile, and garbage collection's share.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable
from typing import NamedTuple

from proxy.seams import BackgroundLoop


class Stall(NamedTuple):
    seconds: float  # how late the tick woke
    cpu_seconds: float  # CPU the loop's thread used meanwhile: the rest it waited (core, GIL)
    gc_seconds: float  # garbage collection meanwhile, in any thread: it holds the GIL


NO_STALL = Stall(0.0, 0.0, 0.0)


class GcPauses:
    """Collections timed by `gc.callbacks`, kept until the loop's next tick reads them.

    A callback runs inside whatever allocation set the collection off, in any thread, even
    one holding a lock: it only appends (atomic under the GIL) and takes no lock of its own.
    """

    def __init__(self) -> None:
        self.pending: list[tuple[int, float]] = []  # (generation, seconds)
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        elif len(self.pending) < 10_000:  # bounded, should the loop stop reading them
            self.pending.append((info["generation"], time.perf_counter() - self._started))

    def take(self) -> list[tuple[int, float]]:
        taken, self.pending = self.pending, []
        return taken


class LoopWatch(BackgroundLoop):
    """Measures the running loop's stalls; `observe` gets each tick's lateness in seconds and
    `observe_gc` each collection's generation and pause."""

    def __init__(
        self,
        observe: Callable[[float], None],
        observe_gc: Callable[[int, float], None],
        *,
        tick: float = 0.05,
        window: float = 1.0,
    ) -> None:
        super().__init__("event-loop watch", self._tick)
        self.observe = observe
        self.observe_gc = observe_gc
        self.tick = tick
        self.window = window
        self.gc_pauses = GcPauses()
        self._window_max = NO_STALL  # the window being filled
        self._last_window_max = NO_STALL  # the one before it
        self._window_ends = 0.0

    @property
    def longest_recent_stall(self) -> Stall:
        """The longest stall seen in this window or the one before it."""
        return max(self._window_max, self._last_window_max)

    async def start(self) -> None:
        if self.gc_pauses not in gc.callbacks:
            gc.callbacks.append(self.gc_pauses)
        await super().start()

    async def aclose(self) -> None:
        await super().aclose()
        if self.gc_pauses in gc.callbacks:
            gc.callbacks.remove(self.gc_pauses)

    async def _tick(self) -> None:
        clock = asyncio.get_running_loop().time
        due = clock() + self.tick
        # Whether a stall was the loop's own work (blocking code, a collection) or a wait for
        # a core or the GIL is told by the CPU its thread used meanwhile.
        cpu_before = time.thread_time()
        await asyncio.sleep(self.tick)
        now = clock()
        collected = 0.0
        for generation, seconds in self.gc_pauses.take():
            self.observe_gc(generation, seconds)
            collected += seconds
        stall = Stall(max(0.0, now - due), time.thread_time() - cpu_before, collected)
        self.observe(stall.seconds)
        self._window_max = max(self._window_max, stall)
        if now >= self._window_ends:
            self._last_window_max, self._window_max = self._window_max, NO_STALL
            self._window_ends = now + self.window
