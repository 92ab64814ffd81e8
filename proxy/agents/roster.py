"""The roster as the running proxy sees it: changes made by `agents add`, `remove` and `import`
(another process, the same database) reach the links within seconds, with no restart.

How: the proxy reads the roster through the store every `POLL_SECONDS` and acts only when it
differs from the last one read. Polling, not a notification, because it is the one mechanism
that works the same on SQLite (which has none across processes) and PostgreSQL, needs no
schema change, trigger or extra connection, and cannot miss a change: whatever wrote the
database (the CLI, an import, an admin's SQL) is seen on the next read. Each poll reads one
string the database builds from the four columns routing depends on, and whole records only
when it changed: at 10,000 agents, reading whole records every 2 s took a fifth of a core and
held the event loop for 200 ms at a time, and reading the four columns as 10,000 rows still
held it for about 4 ms every poll, and a ring arriving meanwhile with it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from proxy.seams import BackgroundLoop, Resource
from proxy.store import AgentRecord, Store

log = logging.getLogger(__name__)

POLL_SECONDS = 2.0
RosterHook = Callable[[Sequence[AgentRecord]], Awaitable[None]]


def roster_devices(agents: Sequence[AgentRecord]) -> frozenset[str]:
    """The devices a roster rings at: every agent's extension (a hot-desk agent's is where they
    sit by default, when they have one)."""
    return frozenset(a.extension.strip() for a in agents if a.extension.strip())


Routing = list[tuple[str, str, str, str]]


def _key(agents: Sequence[AgentRecord]) -> Routing:
    # What routing depends on, as `Store.roster_fingerprint` reads it; a new password or
    # display name changes no device.
    return sorted((a.address, a.extension, a.kind, a.salesforce_user_id) for a in agents)


class RosterWatcher(Resource):
    """Calls `changed(agents)` with the roster at start and after every change to it."""

    def __init__(self, store: Store, changed: RosterHook, poll_seconds: float = POLL_SECONDS):
        super().__init__()
        self.store = store
        self.changed = changed
        self.poll_seconds = poll_seconds
        self.agents: list[AgentRecord] = []
        self._last: Routing | None = None
        self._fingerprint: str | None = None
        # A database hiccup: the next poll tries again, later and later while it lasts.
        self._loop = BackgroundLoop(
            "roster watcher", self._poll, log=log, first_backoff=poll_seconds
        )

    async def start(self) -> None:
        await self.check()  # the links monitor the roster from their first connect
        await self._loop.start()

    async def aclose(self) -> None:
        await self._loop.aclose()

    async def check(self) -> bool:
        """Read the roster now; True (and the hook called) when it changed."""
        fingerprint = await self.store.roster_fingerprint()
        if fingerprint == self._fingerprint:
            return False
        # Read before the records: a change made in between is seen again on the next poll.
        agents = await self.store.list_agents()
        self._fingerprint = fingerprint
        # Compared in Python's order (a database's collation may order addresses otherwise):
        # only a real change to routing calls the hook, whatever moved the fingerprint.
        key = _key(agents)
        if key == self._last:
            return False
        first = self._last is None
        self._last, self.agents = key, agents
        if not first:
            log.info(
                "roster changed: %d agents, %d devices", len(agents), len(roster_devices(agents))
            )
        await self.changed(agents)
        return True

    async def _poll(self) -> None:
        await asyncio.sleep(self.poll_seconds)
        await self.check()
