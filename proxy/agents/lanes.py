"""Each agent's work in order, and no agent waiting on another's.

The switchboard applies every PBX event to the call state at once, in the link's order; what
follows (publishing the change, saving the call's log) may wait on the database, so it runs in
the agent's own lane: strictly in order for that agent, side by side with every other agent's.
A lane is a task that exists only while it has work, so 10,000 idle agents cost nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)
Work = Callable[[], Awaitable[None]]
# A lane this far behind means its database writes are stuck: said once, nothing dropped.
BACKLOG_WARNING = 1000


class AgentLanes:
    def __init__(self) -> None:
        self._queues: dict[str, deque[Work]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._idle = asyncio.Event()
        self._idle.set()

    def submit(self, agent: str, work: Work) -> None:
        """Run `work` after everything already submitted for `agent`."""
        queue = self._queues.setdefault(agent, deque())
        queue.append(work)
        if len(queue) == BACKLOG_WARNING:
            log.warning("agent %s has %d updates waiting (database slow?)", agent, len(queue))
        if agent not in self._workers:
            self._idle.clear()
            self._workers[agent] = asyncio.create_task(self._run(agent), name=f"lane {agent}")

    def busy(self) -> int:
        """Agents with work waiting or running."""
        return len(self._workers)

    async def drain(self) -> None:
        """Wait until every lane has finished what was submitted (a resync starts from there)."""
        await self._idle.wait()

    async def aclose(self) -> None:
        workers = list(self._workers.values())
        for worker in workers:
            worker.cancel()
        for worker in workers:
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        self._queues.clear()
        self._workers.clear()
        self._idle.set()

    async def _run(self, agent: str) -> None:
        queue = self._queues[agent]
        try:
            while queue:
                work = queue.popleft()
                try:
                    await work()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    # One failed update must not hold back the agent's later ones.
                    log.exception("update not delivered [agent=%s]", agent)
        finally:
            if not queue:
                del self._queues[agent]
            del self._workers[agent]
            if not self._workers:
                self._idle.set()
