"""Password hashes at shift change: OWASP's leanest argon2id configuration, and hash threads
that give way to the event loop carrying every agent's rings."""

from __future__ import annotations

import asyncio
import os
import threading

from argon2 import PasswordHasher

from proxy.agents.hashing import OWASP_MINIMUMS, HashPool, hash_password, ready_hash_problem


def test_new_hashes_use_owasps_configuration_with_the_least_memory() -> None:
    """7 MiB and 5 passes, one lane: one of OWASP's minimums, so the roster accepts it as a
    ready-made hash, and it verifies the password it was made from."""
    made = hash_password("shift-change password")
    assert made.startswith("$argon2id$v=19$m=7168,t=5,p=1$")
    assert min(OWASP_MINIMUMS) == (7 * 1024, 5)
    assert ready_hash_problem(made) == ""
    assert PasswordHasher().verify(made, "shift-change password")


def test_hash_threads_run_at_the_lowest_cpu_priority() -> None:
    """A hash thread is reniced to 19, so on a busy box the loop gets a core first; the
    process's own threads keep their priority."""

    def niceness() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    async def on_a_hash_thread() -> int:
        pool = HashPool(workers=1, waiting=1)
        try:
            running = pool.submit(niceness)
            assert running is not None
            return await running
        finally:
            pool.close()

    before = niceness()
    assert asyncio.run(on_a_hash_thread()) == 19
    assert niceness() == before
