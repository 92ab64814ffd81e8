"""The Task writer: drains the outbox into Salesforce, never writing a call's Task twice.

Idempotence, without an external id field: an attempt is counted in the store *before* the
create is sent. A row with no attempt counted has never reached Salesforce, so it is created
straight away (one API call per Task). A row with an attempt counted may have: a create that
timed out, or a crash between Salesforce's answer and our commit. Its next attempt first looks
the Task up by CallObject and creates it only if it is not there.

With an external id field configured (`SOFTPHONE_TASK_EXTERNAL_ID_FIELD`), every write is an
upsert on that field, which Salesforce itself makes idempotent.

Failures: network errors, 5xx, an ended session the client could not renew, and the org's
daily limit are retried with exponential backoff; after `max_attempts` the row is dead, with
Salesforce's error, for an admin to see and retry. Validation errors are dead at once, except a
reference to a record deleted since the call (logged without it, and said so in the notes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import time
from collections.abc import Callable
from typing import Any

from proxy.errors import SalesforceError
from proxy.salesforce.base import SalesforceApi
from proxy.seams import BackgroundLoop, Resource
from proxy.store import OutboxRow, Store
from softphone.soql import soql_field_equals

log = logging.getLogger(__name__)
# Errors that no retry can fix: the Task as built is not acceptable to this org.
PERMANENT = frozenset(
    {
        "INVALID_FIELD",
        "INVALID_TYPE",
        "INVALID_TYPE_FOR_OPERATION",
        "MALFORMED_ID",
        "REQUIRED_FIELD_MISSING",
        "STRING_TOO_LONG",
        "FIELD_CUSTOM_VALIDATION_EXCEPTION",
        "FIELD_INTEGRITY_EXCEPTION",
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
        "INSUFFICIENT_ACCESS_OR_READONLY",
        "NOT_FOUND",
    }
)
# A record named by the Task is gone (deleted, merged) or its owner is inactive: log without it.
_DROPPABLE = {
    "INVALID_CROSS_REFERENCE_KEY": ("WhoId", "WhatId"),
    "ENTITY_IS_DELETED": ("WhoId", "WhatId"),
    "INACTIVE_OWNER_OR_USER": ("OwnerId",),
}


class TaskWriter(Resource):
    def __init__(
        self,
        store: Store,
        api: SalesforceApi,
        *,
        external_id_field: str = "",
        max_attempts: int = 12,
        base_delay: float = 2.0,
        max_delay: float = 600.0,
        concurrency: int = 4,
        poll_seconds: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.api = api
        self.external_id_field = external_id_field
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.concurrency = concurrency
        self.poll_seconds = poll_seconds
        self.clock = clock
        self.written = 0
        self._wake = asyncio.Event()
        self._soonest = math.inf
        # A failed pass (the store or Salesforce down) is retried after a backoff, or at once
        # when new rows are queued.
        self._loop = BackgroundLoop(
            "task writer", self._pass, log=log, first_backoff=poll_seconds, wake=self._wake
        )

    async def start(self) -> None:
        await self._loop.start()

    async def aclose(self) -> None:
        await self._loop.aclose()

    def wake(self) -> None:
        """New rows are queued: write them now rather than at the next poll."""
        self._wake.set()

    async def _pass(self) -> None:
        if await self.drain_once():
            return
        # Sleep until new rows are queued, a failed row's retry is due, or the poll.
        wait = min(self.poll_seconds, self._soonest - self.clock())
        self._soonest = math.inf
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), max(wait, 0.01))

    async def drain_once(self) -> bool:
        """Write the rows due now; True when there may be more due straight away."""
        limit = self.concurrency * 5
        rows = await self.store.due_outbox(self.clock(), limit)
        if not rows:
            return False
        gate = asyncio.Semaphore(self.concurrency)

        async def one(row: OutboxRow) -> None:
            async with gate:
                await self.write(row)

        await asyncio.gather(*(one(row) for row in rows))
        return len(rows) == limit

    async def write(self, row: OutboxRow) -> None:
        # Counted before anything is sent: `row.attempts` (as read) > 0 then means an
        # earlier create may have reached Salesforce, and this one looks before creating.
        await self.store.begin_attempt(row.call_object, self.clock())
        try:
            task_id = await self._write(row, dict(row.fields))
        except SalesforceError as exc:
            await self._failed(row, exc)
            return
        await self.store.outbox_written(row.call_object, task_id, self.clock())
        self.written += 1
        log.info("Task written [call_object=%s task=%s]", row.call_object, task_id)

    async def _write(self, row: OutboxRow, fields: dict[str, Any]) -> str:
        dropped: set[str] = set()
        while True:
            try:
                return await self._send(row, fields)
            except SalesforceError as exc:
                drop = [f for f in _DROPPABLE.get(exc.code, ()) if f in fields]
                if not drop or exc.code in dropped:
                    raise
                dropped.add(exc.code)
                for name in drop:
                    del fields[name]
                note = f"(Logged without {', '.join(drop)}: {exc})"
                fields["Description"] = f"{fields.get('Description', '')}\n\n{note}".strip()
                log.warning("Task %s: %s; writing without %s", row.call_object, exc.code, drop)

    async def _send(self, row: OutboxRow, fields: dict[str, Any]) -> str:
        if self.external_id_field:
            return await self.api.upsert("Task", self.external_id_field, row.call_object, fields)
        if row.attempts > 0:
            soql = soql_field_equals(
                "Task", ("Id",), "CallObject", row.call_object, start_with=False, limit=1
            )
            found = await self.api.query(soql)
            if found:
                log.info("Task already in Salesforce [call_object=%s]", row.call_object)
                return str(found[0]["Id"])
        return await self.api.create("Task", fields)

    async def _failed(self, row: OutboxRow, exc: SalesforceError) -> None:
        attempts = row.attempts + 1
        dead = exc.code in PERMANENT or attempts >= self.max_attempts
        delay = min(self.max_delay, self.base_delay * 2 ** (attempts - 1))
        delay *= 1 + random.random() / 10  # spread retries so a recovered org is not stampeded
        error = str(exc)
        now = self.clock()
        await self.store.outbox_failed(row.call_object, error, now + delay, dead, now)
        if not dead:
            self._soonest = min(self._soonest, now + delay)
        if dead:
            log.error(
                "Task not written, needs an admin [call_object=%s]: %s", row.call_object, error
            )
        else:
            log.warning(
                "Task write failed, retry %d in %.0fs [call_object=%s]: %s",
                attempts,
                delay,
                row.call_object,
                error,
            )
