"""Holding the PBX link in a cluster: the lease taken, the core run, and both given up together.

Every node runs a `LinkHolder`. It contends for the lease (cluster/lease.py); the node that takes
it starts the core (the CTI link, the switchboard, the call logs: `run_core`), which connects
and rebuilds every call from the PBX's snapshot, then serves the other nodes' requests on the
line (cluster/line.py) and announces itself.

A holder lets go of everything at once when it loses the lease (fenced off, or its database
session gone), cannot reach Redis for `REDIS_LOST_SECONDS` (no node could hear it, so it must
not keep a link nobody can use, nor the lease another node needs), or its core fails: it stops
hearing requests, cuts the link, closes the rest, and calls `retire`, which ends the process
(docs/operations.md: run each node under a supervisor that restarts it). Its call state is
stale from that moment, and the new holder rebuilds everything from the PBX; a process that
starts again is a plain node, contending again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack

from proxy.cluster.lease import LinkLease
from proxy.cluster.line import REDIS_LOST_SECONDS, CoreLine, Handler
from proxy.seams import BackgroundLoop, Resource

log = logging.getLogger(__name__)

RunCore = Callable[[AsyncExitStack], Awaitable[None]]
# How often the holder checks that it can still reach Redis.
CHECK_SECONDS = 0.1
# A new holder waits this long before its link dials the PBX. The old holder may not know yet
# that its lease is gone: cut off from the database by a closed connection it knows at once,
# and lets go of the PBX within CHECK_SECONDS; silently cut off, it knows within its fence
# check's 2 s, while PostgreSQL takes ~3 s of silence to end its session and free the lock.
# Either way, the PBX never sees the old holder's link and the new one's at the same time.
TAKEOVER_GRACE = 1.0


class LinkHolder(Resource):
    def __init__(
        self,
        database_url: str,
        node: str,
        line: CoreLine,
        run_core: RunCore,
        handler: Handler,
        *,
        retire: Callable[[str], None],
        silence: Callable[[], Awaitable[None]] | None = None,
        grace: float = TAKEOVER_GRACE,
    ) -> None:
        self.node = node
        self.line = line
        self.run_core = run_core
        self.handler = handler
        self.retire = retire
        self.silence = silence  # lets go of the PBX first, when the lease is lost
        self.grace = grace
        self.lease = LinkLease(database_url, node, on_change=self._changed)
        self.holding = False  # the core runs here and answers the other nodes
        self.takeovers = 0  # times this node took the link
        self.took_seconds = 0.0  # from the lease taken to the core running, the last time
        self._lost = asyncio.Event()
        self._stopping = False
        self._loop = BackgroundLoop("link holder", self._hold, log=log, max_backoff=2.0)

    async def start(self) -> None:
        await self.lease.start()
        await self._loop.start()

    async def aclose(self) -> None:
        self._stopping = True
        await self._loop.aclose()
        await self.lease.aclose()

    def _changed(self, token: int | None) -> None:
        if token is None:
            self._lost.set()

    async def _hold(self) -> None:
        token = await self.lease.wait_held()
        self._lost.clear()
        started = time.monotonic()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._lost.wait(), self.grace)
        if self._lost.is_set() or not self.lease.held:
            return  # lost again while waiting: contend again
        reason = await self._run(token, started)
        # The link is closed (the core's stack is): nothing from here reaches the PBX again.
        # The lease goes too (it may still be held, when Redis was the one lost), so another
        # node can take the link now. A process runs one core in its life: the next is
        # another process's (a core that failed to start leaves half-closed parts behind).
        await self.lease.aclose()
        if not self._stopping:
            self.retire(reason)
        raise StopAsyncIteration

    async def _run(self, token: int, started: float) -> str:
        """Run the core and serve the other nodes until the link must go; why it went."""
        async with AsyncExitStack() as core:
            try:
                await self.run_core(core)
                await self.line.serve(token, self.handler)
                self.holding = True
                self.takeovers += 1
                self.took_seconds = time.monotonic() - started
                log.warning(
                    "node %s holds the PBX link (token %d), core up in %.2f s",
                    self.node,
                    token,
                    self.took_seconds,
                )
                reason = await self._until_lost()
            except Exception as exc:
                log.exception("node %s: the core failed", self.node)
                reason = f"its core failed: {exc!r}"
            finally:
                self.holding = False
                # No request is heard from here, and none in progress goes on against a core
                # that is closing; then the PBX is let go of, first of all the core's parts.
                await self.line.stop_serving()
                if self.silence is not None:
                    await self.silence()
            log.warning("node %s lets go of the PBX link: %s", self.node, reason)
        return reason

    async def _until_lost(self) -> str:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._lost.wait(), CHECK_SECONDS)
            if self._lost.is_set():
                return "its lease is lost"
            if time.monotonic() - self.line.last_reached > REDIS_LOST_SECONDS:
                return f"Redis out of reach for over {REDIS_LOST_SECONDS:g} s"
