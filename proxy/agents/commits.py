"""Call-log writes in group commits: every write waiting goes to the store in one transaction.

A ring's log is saved soon (nobody waits: the pop is the hurry); an answer's or an end's is
saved before the page is told (the caller awaits it). Writes that arrive while a commit is
under way wait for the next one, so under a burst of calls one transaction carries many
agents' writes instead of each agent queueing for SQLite's one writer. Writes are committed in
the order they were made, so a ring's log is never written over by itself later.

A commit of rings alone waits `linger` (10 ms) first, unless a write someone awaits arrives
meanwhile: a ring's pop usually follows within a few milliseconds, and the commit's CPU would
otherwise run in between (profiled: the writes were most of the proxy's CPU per call).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from proxy.seams import Resource
from proxy.store import Store
from proxy.store.base import LogWrite
from softphone.agentdata import HistoryEntry
from softphone.calllog import CallLog

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Write:
    write: LogWrite
    done: asyncio.Future[None] | None


class GroupCommit(Resource):
    def __init__(
        self, store: Store, *, linger: float = 0.01, clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.linger = linger
        self.clock = clock
        self._pending: list[_Write] = []
        self._committer: asyncio.Task[None] | None = None
        self._awaited = asyncio.Event()  # a write someone waits for is pending: commit now

    def save_soon(self, entry: CallLog) -> None:
        """Queue the log for the next commit; a failure is logged (nobody is waiting)."""
        self._add(_Write(LogWrite(entry), None))

    async def save(self, entry: CallLog, history: HistoryEntry | None = None) -> None:
        """Save the log (and the history entry of a call that ended) before returning."""
        await self._wait_for(LogWrite(entry, history))

    async def queue(self, entry: CallLog, tasks: list[dict[str, Any]]) -> None:
        """Save the finished log with its Task rows in one commit, before returning."""
        await self._wait_for(LogWrite(entry, tasks=tuple(tasks)))

    async def _wait_for(self, write: LogWrite) -> None:
        done = asyncio.get_running_loop().create_future()
        self._awaited.set()
        self._add(_Write(write, done))
        await done

    async def aclose(self) -> None:
        """Commit what is queued (a clean stop loses no ring), then stop."""
        with contextlib.suppress(Exception):
            while self._committer is not None:
                await asyncio.shield(self._committer)

    def _add(self, write: _Write) -> None:
        self._pending.append(write)
        if self._committer is None:
            self._committer = asyncio.create_task(self._commit_all(), name="call-log commits")

    async def _commit_all(self) -> None:
        try:
            while self._pending:
                if not self._awaited.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._awaited.wait(), self.linger)
                batch, self._pending = self._pending, []
                self._awaited.clear()
                await self._commit(batch)
        finally:
            self._committer = None

    async def _commit(self, batch: list[_Write]) -> None:
        try:
            await self.store.save_call_logs([w.write for w in batch], self.clock())
        except asyncio.CancelledError:
            for write in batch:
                if write.done is not None and not write.done.done():
                    write.done.cancel()
            raise
        except Exception as exc:
            log.exception("call logs not saved [calls=%d]", len(batch))
            for write in batch:
                if write.done is not None and not write.done.done():
                    write.done.set_exception(exc)
            return
        for write in batch:
            if write.done is not None and not write.done.done():
                write.done.set_result(None)
