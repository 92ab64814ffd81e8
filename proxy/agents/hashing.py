"""Password hashes: argon2id at OWASP's minimums, computed in a bounded pool of threads (the
server's sign-ins) or in processes on every core (a roster import)."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from typing import TypeVar

from argon2 import PasswordHasher, Type

T = TypeVar("T")

# OWASP's Password Storage Cheat Sheet minimum for argon2id: 19 MiB, 2 passes, 1 lane. The
# library's defaults (64 MiB, 3 passes, 4 lanes: about 200 ms here) let a shift's sign-ins take
# every core (issue 16). Hashes made under other parameters still verify, and are redone on
# the agent's next sign-in.
HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1, type=Type.ID)


def default_workers() -> int:
    """One fewer than the cores, so the event loop always has one; at least one."""
    return max(1, (os.cpu_count() or 1) - 1)


class HashPool:
    """Threads of its own for password hashes, so they never queue ahead of the Salesforce
    lookups in the default pool, and a bounded queue in front of them."""

    def __init__(self, workers: int = 0, waiting: int = 64) -> None:
        self.workers = workers or default_workers()
        self.capacity = self.workers + waiting
        self.executor = ThreadPoolExecutor(self.workers, thread_name_prefix="password-hash")
        # Counted from submission until the thread is done (not until the caller stops
        # waiting), so a sign-in whose client went away still holds its place.
        self._taken = 0
        self._lock = threading.Lock()

    def submit(self, work: Callable[[], T]) -> asyncio.Future[T] | None:
        """The work's result to await, or None while every thread and queue place is taken."""
        with self._lock:
            if self._taken >= self.capacity:
                return None
            self._taken += 1
        done = self.executor.submit(work)
        done.add_done_callback(self._release)
        return asyncio.wrap_future(done)

    def _release(self, _: object) -> None:
        with self._lock:
            self._taken -= 1

    def close(self) -> None:
        """Drop queued hashes and let the running ones finish on their own."""
        self.executor.shutdown(wait=False, cancel_futures=True)


def hash_password(password: str) -> str:
    return HASHER.hash(password)


def hash_all(
    passwords: list[str], workers: int = 0, progress: Callable[[int], None] | None = None
) -> list[str]:
    """The hashes of `passwords`, in order, computed on `workers` processes (every core when 0).

    Processes, not threads: argon2-cffi releases the GIL, but a roster import has nothing else
    to do and no event loop to leave a core to, and processes share nothing that could stall.
    `progress` hears the number hashed so far, now and then.
    """
    workers = workers or os.cpu_count() or 1
    if len(passwords) < 2 or workers == 1:
        return [hash_password(p) for p in passwords]
    chunk = max(1, min(200, len(passwords) // (workers * 8)))
    hashes: list[str] = []
    # spawn: a fresh interpreter per worker, not a fork of a process that may hold threads.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        for hashed in pool.map(hash_password, passwords, chunksize=chunk):
            hashes.append(hashed)
            if progress is not None and len(hashes) % 1000 == 0:
                progress(len(hashes))
    return hashes
