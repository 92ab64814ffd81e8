"""The VoiceCall writer: drains the outbox's Salesforce Voice rows, each write once.

Rows are queued by `proxy.agents.voice.VoiceJournal`, keyed `<kind>:<call id>`:

- `voice_create`: POST /voiceCalls. Rows are claimed as the Task writer claims its own (the
  attempt counted, the row held from other nodes' writers while a create may still land); a
  retry after an attempt that may have landed sends it again, and an answer that the
  vendorCallKey exists already counts as created (the API keys VoiceCalls by it).
- `voice_end`: PATCH /voiceCalls/{vendorCallKey}, once the create is written. Sent again only
  after an attempt whose answer was lost: the API documents that a repeat overwrites.
- `voice_clear`: PATCH .../clearRouting for a call nobody answered, once the create is written.

A call's rows are written in that order; different calls' rows in parallel. Retryable failures
(network, 5xx, 429, a refused token an admin may fix) back off; others are dead at once, for an
admin to read and retry (`softphone-proxy outbox`). A row whose VoiceCall could never be
created is dead with it.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from itertools import groupby

from proxy.salesforce.drain import OutboxDrainer
from proxy.salesforce.voice import TelephonyApi, TelephonyError
from proxy.store import OutboxRow, Store
from softphone.voicecalls import VOICE_WRITES, write_key

log = logging.getLogger(__name__)
# The answers that say a VoiceCall with this vendorCallKey is there already.
ALREADY_THERE = frozenset({"DUPLICATE_VALUE", "DUPLICATE_VENDOR_CALL_KEY", "HTTP_409"})
WAIT_FOR_CREATE_SECONDS = 0.5


class VoiceCallWriter(OutboxDrainer):
    def __init__(
        self,
        store: Store,
        api: TelephonyApi,
        *,
        max_attempts: int = 12,
        base_delay: float = 2.0,
        max_delay: float = 600.0,
        poll_seconds: float = 5.0,
        settle_seconds: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.api = api
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        # A claimed row is held this long from other writers (nodes): a create may still land.
        self.settle_seconds = settle_seconds
        self.written = 0
        super().__init__("voicecall writer", poll_seconds=poll_seconds, log=log, clock=clock)

    async def aclose(self) -> None:
        await super().aclose()
        self.api.close()

    async def drain_once(self, limit: int = 40) -> bool:
        """Write the rows due now; True when there may be more due straight away."""
        # Each row's attempt is counted as it is claimed (so a crash mid-write is known), and
        # other nodes' writers skip it while this one writes it.
        now = self.clock()
        rows = await self.store.claim_due_outbox(now, limit, self.settle_seconds, VOICE_WRITES)
        if not rows:
            return False

        def call_of(row: OutboxRow) -> str:
            return row.call_object.split(":", 1)[1]

        by_call = groupby(sorted(rows, key=call_of), key=call_of)

        async def in_order(call_rows: list[OutboxRow]) -> None:
            order: dict[str, int] = {kind: n for n, kind in enumerate(VOICE_WRITES)}
            for row in sorted(call_rows, key=lambda r: order.get(r.kind, 9)):
                await self.write(row)

        await asyncio.gather(*(in_order(list(group)) for _, group in by_call))
        return len(rows) == limit

    async def write(self, row: OutboxRow) -> None:
        call_id = row.call_object.split(":", 1)[1]
        if row.kind != "voice_create" and not await self._created(row, call_id):
            return
        try:
            voice_call_id = await self._send(row, call_id)
        except TelephonyError as exc:
            await self._failed(row, exc)
            return
        await self.store.outbox_written(row.call_object, voice_call_id, self.clock())
        self.written += 1
        log.info("%s written [call_id=%s voicecall=%s]", row.kind, call_id, voice_call_id)

    async def _created(self, row: OutboxRow, call_id: str) -> bool:
        """Whether the call's VoiceCall is there to update; if not, the row waits (or dies)."""
        create = await self.store.outbox_row(write_key("voice_create", call_id))
        now = self.clock()
        if create is None or create.state == "written":
            return True
        if create.state == "dead":
            error = f"the VoiceCall was never created: {create.last_error}"
            await self.store.outbox_failed(row.call_object, error, now, True, now)
            log.error("%s dead with its VoiceCall [call_id=%s]", row.kind, call_id)
            return False
        due = max(now + WAIT_FOR_CREATE_SECONDS, create.next_attempt_at)
        # Waiting is not an attempt: given back uncounted, it keeps all its tries for itself.
        await self.store.unclaim(row.call_object, due, now)
        self.retry_at(due)
        return False

    async def _send(self, row: OutboxRow, call_id: str) -> str:
        # Fields named with "_" are the journal's own notes, never part of the request.
        body = {k: v for k, v in row.fields.items() if not k.startswith("_")}
        if row.kind == "voice_create":
            try:
                return await self.api.create(body)
            except TelephonyError as exc:
                if row.attempts > 0 and exc.code in ALREADY_THERE:
                    log.info("VoiceCall already in Salesforce [call_id=%s]", call_id)
                    return ""
                raise
        if row.kind == "voice_end":
            await self.api.update(call_id, body)
        else:
            await self.api.clear_routing(call_id)
        return ""

    async def _failed(self, row: OutboxRow, exc: TelephonyError) -> None:
        attempts = row.attempts + 1
        dead = not exc.retryable or attempts >= self.max_attempts
        delay = min(self.max_delay, self.base_delay * 2 ** (attempts - 1))
        delay *= 1 + random.random() / 10  # spread retries so a recovered org is not stampeded
        now = self.clock()
        await self.store.outbox_failed(row.call_object, str(exc), now + delay, dead, now)
        if dead:
            log.error("%s not written, needs an admin [%s]: %s", row.kind, row.call_object, exc)
        else:
            self.retry_at(now + delay)
            log.warning(
                "%s failed, retry %d in %.0fs [%s]: %s",
                row.kind,
                attempts,
                delay,
                row.call_object,
                exc,
            )
