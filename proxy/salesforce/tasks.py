"""The Task writer: drains the outbox into Salesforce, never writing a call's Task twice.

Idempotence, without an external id field: an attempt is counted in the store *before* the
create is sent. A row with no attempt counted has never reached Salesforce, so it is created
straight away (one API call per Task). A row with an attempt counted may have: a create that
timed out, or a crash between Salesforce's answer and our commit. Its next attempt first looks
the Task up by CallObject and creates it only if it is not there.

With an external id field configured (`SOFTPHONE_TASK_EXTERNAL_ID_FIELD`), every write is an
upsert on that field, which Salesforce itself makes idempotent.

Bursts: when more than one row is due (a shift's calls ending together, an org back after an
outage), rows are created 200 at a time with sObject Collections, one API call each, not all or
none, under the same rule: the burst's attempts are counted in one commit before the call, and
rows attempted before are first looked up by CallObject (`IN`, a few queries per burst).
Salesforce answers each record on its own: a created record's row is written, a refused one
follows the retry and dead rules above, alone. A call that fails as a whole (network, 5xx,
timeout) retries every row of it, each of which then looks before creating again.

A create whose answer never came (a timeout, a dropped connection) may still be running at
the org, so its row is not tried again before `settle_seconds`: the look-up must come after it
has landed.

Failures: network errors, 5xx, an ended session the client could not renew, and the org's
daily limit are retried with exponential backoff; after `max_attempts` the row is dead, with
Salesforce's error, for an admin to see and retry. Validation errors are dead at once, except a
reference to a record deleted since the call (logged without it, and said so in the notes).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from typing import Any

from proxy.errors import SalesforceError
from proxy.salesforce.base import COLLECTION_LIMIT, SalesforceApi
from proxy.salesforce.drain import OutboxDrainer
from proxy.store import OutboxRow, Store
from softphone.soql import soql_field_equals, soql_field_in

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


class TaskWriter(OutboxDrainer):
    def __init__(
        self,
        store: Store,
        api: SalesforceApi,
        *,
        external_id_field: str = "",
        max_attempts: int = 12,
        base_delay: float = 2.0,
        max_delay: float = 600.0,
        settle_seconds: float = 60.0,
        concurrency: int = 4,
        poll_seconds: float = 5.0,
        shared_store: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.api = api
        self.external_id_field = external_id_field
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.settle_seconds = settle_seconds
        self.concurrency = concurrency
        # Other writers (other nodes) drain the same outbox: their claims are theirs to keep.
        self.shared_store = shared_store
        self.written = 0
        super().__init__("task writer", poll_seconds=poll_seconds, log=log, clock=clock)

    async def start(self) -> None:
        if not self.shared_store:
            # Rows this proxy was writing when it stopped are due again (their attempt was
            # counted, so each looks before it creates); nobody else could be writing them.
            released = await self.store.release_claims(self.clock())
            if released:
                log.info("%d Task rows were being written at the last stop: due again", released)
        await super().start()

    async def drain_once(self) -> bool:
        """Write the rows due now; True when there may be more due straight away."""
        limit = COLLECTION_LIMIT * self.concurrency
        # Held for as long as a create may still land (`settle_seconds`): if this node dies
        # mid-write, another takes its rows only then, and looks before it creates.
        rows = await self.store.claim_due_outbox(self.clock(), limit, self.settle_seconds)
        if not rows:
            return False
        gate = asyncio.Semaphore(self.concurrency)

        async def one(row: OutboxRow) -> None:
            async with gate:
                await self.write(row)

        if len(rows) == 1 or self.external_id_field:
            # Upserts are idempotent one by one; collections would only save API calls.
            await asyncio.gather(*(one(row) for row in rows))
        else:
            bursts = [rows[n : n + COLLECTION_LIMIT] for n in range(0, len(rows), COLLECTION_LIMIT)]
            await asyncio.gather(*(self.write_burst(burst) for burst in bursts))
        return len(rows) == limit

    async def write(self, row: OutboxRow) -> None:
        # The claim counted this attempt before anything is sent: `row.attempts` (as read)
        # > 0 means an earlier create may have reached Salesforce, so this one looks first.
        try:
            task_id = await self._write(row, dict(row.fields))
        except SalesforceError as exc:
            await self._failed(row, exc)
            return
        await self.store.outbox_written(row.call_object, task_id, self.clock())
        self.written += 1
        log.info("Task written [call_object=%s task=%s]", row.call_object, task_id)

    async def write_burst(self, rows: list[OutboxRow]) -> None:
        """Up to 200 rows in one sObject Collections create, each row's outcome its own."""
        tried = [row for row in rows if row.attempts > 0]
        spread = random.random() / 10
        try:
            found = await self._already_in_salesforce(tried) if tried else {}
        except SalesforceError as exc:
            now = self.clock()
            for row in rows:
                await self._failed(row, exc, now=now, spread=spread)
            return
        outcome: dict[str, str | SalesforceError] = dict(found)
        outcome.update(await self._create_burst([r for r in rows if r.call_object not in found]))
        written = {call: task for call, task in outcome.items() if isinstance(task, str)}
        await self.store.outbox_written_many(written, self.clock())
        self.written += len(written)
        for call_object, task_id in written.items():
            log.info("Task written [call_object=%s task=%s]", call_object, task_id)
        now = self.clock()
        for row in rows:
            refused = outcome[row.call_object]
            if isinstance(refused, SalesforceError):
                await self._failed(row, refused, now=now, spread=spread)

    async def _already_in_salesforce(self, rows: list[OutboxRow]) -> dict[str, str]:
        """The Tasks an earlier attempt created after all: call object -> Task Id."""
        found: dict[str, str] = {}
        calls = [row.call_object for row in rows]
        for soql in soql_field_in("Task", ("Id", "CallObject"), "CallObject", calls):
            for record in await self.api.query(soql):
                found.setdefault(str(record["CallObject"]), str(record["Id"]))
        for call_object in found:
            log.info("Task already in Salesforce [call_object=%s]", call_object)
        return found

    async def _create_burst(self, rows: list[OutboxRow]) -> dict[str, str | SalesforceError]:
        """Create the rows' Tasks; a record refused for a droppable reference goes again,
        without it, in the next (smaller) collection."""
        pending = [(row, dict(row.fields)) for row in rows]
        dropped: dict[str, set[str]] = {row.call_object: set() for row in rows}
        outcome: dict[str, str | SalesforceError] = {}
        while pending:
            try:
                results = await self.api.create_many("Task", [fields for _, fields in pending])
            except SalesforceError as exc:
                outcome.update((row.call_object, exc) for row, _ in pending)
                return outcome
            again = []
            for (row, fields), result in zip(pending, results, strict=True):
                if isinstance(result, SalesforceError) and self._drop_refused(
                    row, fields, result, dropped[row.call_object]
                ):
                    again.append((row, fields))
                else:
                    outcome[row.call_object] = result
            pending = again
        return outcome

    async def _write(self, row: OutboxRow, fields: dict[str, Any]) -> str:
        dropped: set[str] = set()
        while True:
            try:
                return await self._send(row, fields)
            except SalesforceError as exc:
                if not self._drop_refused(row, fields, exc, dropped):
                    raise

    def _drop_refused(
        self, row: OutboxRow, fields: dict[str, Any], exc: SalesforceError, dropped: set[str]
    ) -> bool:
        """Take out of `fields` a reference Salesforce refused as gone (once per error code),
        saying so in the notes; False when the refusal is not of that kind."""
        drop = [f for f in _DROPPABLE.get(exc.code, ()) if f in fields]
        if not drop or exc.code in dropped:
            return False
        dropped.add(exc.code)
        for name in drop:
            del fields[name]
        note = f"(Logged without {', '.join(drop)}: {exc})"
        fields["Description"] = f"{fields.get('Description', '')}\n\n{note}".strip()
        log.warning("Task %s: %s; writing without %s", row.call_object, exc.code, drop)
        return True

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

    async def _failed(
        self,
        row: OutboxRow,
        exc: SalesforceError,
        *,
        now: float | None = None,
        spread: float | None = None,
    ) -> None:
        """Schedule the row's retry, or declare it dead. A burst passes one `now` and `spread`
        for all its rows, so that they come due together and go again as one collection."""
        attempts = row.attempts + 1
        dead = exc.code in PERMANENT or attempts >= self.max_attempts
        delay = min(self.max_delay, self.base_delay * 2 ** (attempts - 1))
        # Spread retries so that a recovered org is not stampeded.
        delay *= 1 + (random.random() / 10 if spread is None else spread)
        if exc.code == "NETWORK_ERROR":
            # The create may still be running at the org after we stopped waiting; a lookup
            # made before it lands finds nothing, and the Task would be created twice.
            delay = max(delay, self.settle_seconds)
        error = str(exc)
        now = self.clock() if now is None else now
        await self.store.outbox_failed(row.call_object, error, now + delay, dead, now)
        if not dead:
            self.retry_at(now + delay)
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
