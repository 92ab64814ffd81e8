"""Password hashes: argon2id at OWASP's minimums, computed in a bounded pool of threads (the
server's sign-ins) or in processes on every core (a roster import); and which ready-made
hashes (a roster brought from another system) the roster accepts."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import multiprocessing
import os
import re
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from typing import TypeVar

from argon2 import PasswordHasher, Type

T = TypeVar("T")

# OWASP's Password Storage Cheat Sheet gives five argon2id configurations of equal strength
# (memory against passes; OWASP_MINIMUMS below). The proxy uses the least memory of them: 7 MiB,
# 5 passes, 1 lane (Keycloak's default too). Measured here with argon2-cffi, one verify takes
# 13.6 ms at 7 MiB x 5, 14.4 at 9 x 4, 15.1 at 12 x 3, 18.7 at 19 x 2 and 44.6 at 46 x 1: the
# small block stays in the CPU's caches, so a shift signs in about a third faster on the same
# core, and each hash in flight holds 7 MiB, not 19. The library's defaults (64 MiB, 3 passes,
# 4 lanes: about 200 ms here) let a shift's sign-ins take every core (issue 16). Hashes made
# under other parameters still verify, and are redone on the agent's next sign-in.
HASHER = PasswordHasher(time_cost=5, memory_cost=7 * 1024, parallelism=1, type=Type.ID)
# The lowest CPU priority (nice 19) for the hash threads: on a busy box the event loop, which
# carries every agent's rings, takes a core before a sign-in's hash does.
HASH_THREAD_NICE = 19


def default_workers() -> int:
    """One fewer than the cores, so the event loop always has one; at least one."""
    return max(1, (os.cpu_count() or 1) - 1)


class HashPool:
    """Threads of its own for password hashes, so they never queue ahead of the Salesforce
    lookups in the default pool, and a bounded queue in front of them."""

    def __init__(self, workers: int = 0, waiting: int = 64) -> None:
        self.workers = workers or default_workers()
        self.capacity = self.workers + waiting
        self.executor = ThreadPoolExecutor(
            self.workers, thread_name_prefix="password-hash", initializer=_lowest_priority
        )
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


def _lowest_priority() -> None:
    """Run this thread at nice 19 (Linux gives each thread its own); where a thread cannot
    be reniced, it runs at the process's priority."""
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASH_THREAD_NICE)


def hash_password(password: str) -> str:
    return HASHER.hash(password)


# Ready-made hashes (a roster import from another system, or one exported here): accepted
# only as argon2id, version 19 (1.3), in the PHC string form the argon2 library reads, with
# its parameters in that order and unpadded canonical base64; anything else would be stored
# and then fail every sign-in.
_PHC = re.compile(
    r"\$argon2id\$v=19\$m=([0-9]{1,10}),t=([0-9]{1,10}),p=([0-9]{1,10})"
    r"\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)"
)
# OWASP's minimum as any of its five equally strong argon2id configurations (MiB of memory
# against passes), 1 lane or more: the proxy's own is the fifth. Another system may have
# chosen another row (Keycloak's default is 7 MiB, 5 passes); a hash at any of them is
# accepted, and redone at the proxy's own parameters on the agent's next sign-in.
OWASP_MINIMUMS = ((46 * 1024, 1), (19 * 1024, 2), (12 * 1024, 3), (9 * 1024, 4), (7 * 1024, 5))
# Ceilings: the agent's first sign-in verifies at the hash's own cost, on the proxy's few
# hash threads, before it is redone at ours (13.6 ms here).
MAX_MEMORY_KIB = 1024 * 1024
MAX_COST = 32 * 19 * 1024 * 2  # KiB x passes: 32 of OWASP's 19 MiB x 2
MAX_LANES = 16
MIN_SALT_BYTES = 16
MIN_TAG_BYTES = 16
MAX_HASH_CHARS = 200  # the roster's column


def _canonical_b64(text: str) -> bytes | None:
    """The bytes of unpadded base64 `text`, or None unless it is exactly how they encode."""
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if base64.b64encode(raw).decode().rstrip("=") == text else None


def ready_hash_problem(phc: str) -> str:
    """Why a ready-made password hash cannot be stored, or "" when it can (it is then
    verified like one made here, and redone at the proxy's parameters if they differ)."""
    if len(phc) > MAX_HASH_CHARS:
        return f"longer than {MAX_HASH_CHARS} characters"
    found = _PHC.fullmatch(phc)
    if found is None:
        return _not_argon2id(phc)
    memory, passes, lanes = (int(found.group(n)) for n in (1, 2, 3))
    salt, tag = _canonical_b64(found.group(4)), _canonical_b64(found.group(5))
    if salt is None or tag is None:
        return "its salt or hash is not unpadded base64"
    if len(salt) < MIN_SALT_BYTES or len(tag) < MIN_TAG_BYTES:
        return (
            f"its salt is {len(salt)} bytes and its hash {len(tag)}: at least "
            f"{MIN_SALT_BYTES} and {MIN_TAG_BYTES}"
        )
    if lanes < 1 or not any(memory >= m and passes >= t for m, t in OWASP_MINIMUMS):
        rows = ", ".join(f"m={m},t={t}" for m, t in OWASP_MINIMUMS)
        return (
            f"m={memory},t={passes},p={lanes} is below OWASP's minimum for argon2id "
            f"(one of {rows}; p=1 or more)"
        )
    if memory > MAX_MEMORY_KIB or memory * passes > MAX_COST or lanes > MAX_LANES:
        return (
            f"m={memory},t={passes},p={lanes} would make the agent's first sign-in too dear: "
            f"at most {MAX_MEMORY_KIB} KiB, {MAX_COST} KiB x passes and {MAX_LANES} lanes"
        )
    return ""


def _not_argon2id(phc: str) -> str:
    shape = "expected $argon2id$v=19$m=...,t=...,p=...$salt$hash"
    if phc.startswith(("$argon2i$", "$argon2d$")):
        return f"{phc.split('$')[1]}, not argon2id ({shape})"
    if phc.startswith(("$2a$", "$2b$", "$2y$", "$2x$")):
        return f"a bcrypt hash, not argon2id ({shape})"
    if phc.startswith("$argon2id$") and not phc.startswith("$argon2id$v=19$"):
        return f"an argon2id version other than 19 ({shape})"
    return f"not an argon2id hash in PHC form ({shape})"


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
