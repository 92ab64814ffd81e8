"""Queries for call logs and the Task outbox, and the retention purge."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, delete, func, select, text, update

from proxy.store.base import LogWrite, OutboxRow, OutboxState, OutboxWrite, PurgeCounts
from proxy.store.data import history_values
from proxy.store.engine import SqlBase
from proxy.store.schema import call_logs, history, outbox, sessions
from softphone.agentdata import HistoryEntry
from softphone.calllog import CallLog, log_from_dict, log_to_dict

_UNFINISHED = ("open", "wrapping")
# The advisory lock a cluster's retention purge is taken under (any fixed 64-bit number).
PURGE_LOCK = 0x50_68_6F_6E_65_50_75_72


class CallLogQueries(SqlBase):
    _log_upsert: Any = None
    _history_upsert: Any = None

    def _log_values(self, log: CallLog, now: float) -> dict[str, Any]:
        return {
            "agent": log.agent,
            "call_id": log.call_id,
            "state": log.state,
            "data": json.dumps(log_to_dict(log)),
            "updated_at": now,
            "device": log.device,
            "pbx_call_id": log.pbx_call_id,
        }

    async def put_call_log(self, log: CallLog, now: float) -> None:
        await self.save_call_logs([LogWrite(log)], now)

    async def end_call(self, log: CallLog, entry: HistoryEntry, now: float) -> None:
        await self.save_call_logs([LogWrite(log, entry)], now)

    async def save_call_logs(self, writes: Sequence[LogWrite], now: float) -> None:
        logs = [self._log_values(w.log, now) for w in writes]
        ended = [history_values(w.log.agent, w.history) for w in writes if w.history is not None]
        tasks = [_task_row(w.log, t, now) for w in writes for t in w.tasks or ()]
        async with self.engine.begin() as conn:
            await conn.execute(self._upsert_logs(), logs)
            if ended:
                await conn.execute(self._upsert_history(), ended)
            if tasks:
                await conn.execute(self.insert(outbox).on_conflict_do_nothing(), tasks)

    def _upsert_logs(self) -> Any:
        # Built once per store: building and compiling it per write was most of a call's CPU.
        if self._log_upsert is None:
            columns = [c.name for c in call_logs.columns]
            self._log_upsert = self.upsert_many(call_logs, columns, ["agent", "call_id"])
        return self._log_upsert

    def _upsert_history(self) -> Any:
        if self._history_upsert is None:
            columns = [c.name for c in history.columns]
            self._history_upsert = self.upsert_many(history, columns, ["address", "call_id"])
        return self._history_upsert

    async def unfinished_call_logs(self) -> list[CallLog]:
        query = select(call_logs.c.data).where(call_logs.c.state.in_(_UNFINISHED))
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).scalars().all()
        return [log_from_dict(json.loads(raw)) for raw in rows]

    async def queue_call_log(self, log: CallLog, tasks: list[dict[str, Any]], now: float) -> None:
        await self.save_call_logs([LogWrite(log, tasks=tuple(tasks))], now)

    async def enqueue(self, agent: str, writes: list[OutboxWrite], now: float) -> int:
        added = 0
        async with self.engine.begin() as conn:
            for write in writes:
                row = {
                    "call_object": write.call_object,
                    "agent": agent,
                    "kind": write.kind,
                    "fields": json.dumps(write.fields),
                    "state": "pending",
                    "attempts": 0,
                    "next_attempt_at": now if write.due is None else write.due,
                    "last_error": "",
                    "task_id": "",
                    "created_at": now,
                    "updated_at": now,
                }
                done = await conn.execute(self.insert(outbox).values(row).on_conflict_do_nothing())
                added += int(done.rowcount)
        return added

    async def release(self, call_object: str, fields: dict[str, Any], now: float) -> bool:
        statement = (
            update(outbox)
            .where(
                outbox.c.call_object == call_object,
                outbox.c.state == "pending",
                outbox.c.attempts == 0,
            )
            .values(fields=json.dumps(fields), next_attempt_at=now, updated_at=now)
        )
        async with self.engine.begin() as conn:
            return bool((await conn.execute(statement)).rowcount)

    async def outbox_row(self, call_object: str) -> OutboxRow | None:
        query = select(outbox).where(outbox.c.call_object == call_object)
        async with self.engine.connect() as conn:
            found = (await conn.execute(query)).mappings().first()
        return None if found is None else _row(found)

    async def outbox_of_kind(self, kind: str, since: float) -> list[OutboxRow]:
        query = (
            select(outbox)
            .where(outbox.c.kind == kind, outbox.c.created_at >= since)
            .order_by(outbox.c.created_at)
        )
        async with self.engine.connect() as conn:
            return [_row(r) for r in (await conn.execute(query)).mappings().all()]

    async def due_outbox(
        self, now: float, limit: int, kinds: tuple[str, ...] = ("task",)
    ) -> list[OutboxRow]:
        async with self.engine.connect() as conn:
            query = _due(now, limit, kinds)
            return [_row(r) for r in (await conn.execute(query)).mappings().all()]

    async def outbox_rows(self, state: OutboxState | None = None) -> list[OutboxRow]:
        query = select(outbox).order_by(outbox.c.created_at)
        if state is not None:
            query = query.where(outbox.c.state == state)
        async with self.engine.connect() as conn:
            return [_row(r) for r in (await conn.execute(query)).mappings().all()]

    async def outbox_counts(self) -> dict[str, int]:
        query = select(outbox.c.state, func.count()).group_by(outbox.c.state)
        async with self.engine.connect() as conn:
            found = {str(state): int(n) for state, n in (await conn.execute(query)).all()}
        return {s: found.get(s, 0) for s in ("pending", "written", "dead")}

    async def _update(self, call_object: str, **values: Any) -> int:
        statement = update(outbox).where(outbox.c.call_object == call_object).values(**values)
        async with self.engine.begin() as conn:
            return int((await conn.execute(statement)).rowcount)

    async def outbox_written(self, call_object: str, task_id: str, now: float) -> None:
        await self._update(
            call_object, state="written", task_id=task_id, last_error="", updated_at=now
        )

    async def claim_due_outbox(
        self, now: float, limit: int, hold: float, kinds: tuple[str, ...] = ("task",)
    ) -> list[OutboxRow]:
        # SKIP LOCKED on PostgreSQL; SQLite has one writer anyway.
        due = _due(now, limit, kinds).with_for_update(skip_locked=True)
        async with self.engine.begin() as conn:
            rows = [_row(r) for r in (await conn.execute(due)).mappings().all()]
            if rows:
                await conn.execute(
                    update(outbox)
                    .where(outbox.c.call_object.in_([row.call_object for row in rows]))
                    .values(
                        attempts=outbox.c.attempts + 1, next_attempt_at=now + hold, updated_at=now
                    )
                )
        return rows

    async def unclaim(self, call_object: str, due: float, now: float) -> None:
        statement = (
            update(outbox)
            .where(outbox.c.call_object == call_object, outbox.c.attempts > 0)
            .values(attempts=outbox.c.attempts - 1, next_attempt_at=due, updated_at=now)
        )
        async with self.engine.begin() as conn:
            await conn.execute(statement)

    async def release_claims(self, now: float) -> int:
        statement = (
            update(outbox)
            .where(
                outbox.c.state == "pending",
                outbox.c.attempts > 0,
                outbox.c.next_attempt_at > now,
            )
            .values(next_attempt_at=now)
        )
        async with self.engine.begin() as conn:
            return int((await conn.execute(statement)).rowcount)

    async def outbox_written_many(self, task_ids: dict[str, str], now: float) -> None:
        if not task_ids:
            return
        statement = (
            update(outbox)
            .where(outbox.c.call_object == bindparam("row_call_object"))
            .values(
                state="written", task_id=bindparam("row_task_id"), last_error="", updated_at=now
            )
        )
        params = [{"row_call_object": c, "row_task_id": t} for c, t in task_ids.items()]
        async with self.engine.begin() as conn:
            await conn.execute(statement, params)

    async def outbox_failed(
        self, call_object: str, error: str, next_attempt_at: float, dead: bool, now: float
    ) -> None:
        await self._update(
            call_object,
            state="dead" if dead else "pending",
            last_error=error[:2000],
            next_attempt_at=next_attempt_at,
            updated_at=now,
        )

    async def retry_dead(self, call_object: str, now: float) -> bool:
        statement = (
            update(outbox)
            .where(outbox.c.call_object == call_object, outbox.c.state == "dead")
            .values(state="pending", next_attempt_at=now, updated_at=now)
        )
        async with self.engine.begin() as conn:
            return bool((await conn.execute(statement)).rowcount)

    async def purge(self, before: float, now: float) -> PurgeCounts:
        async with self.engine.begin() as conn:
            if self.engine.dialect.name == "postgresql":
                # One node of a cluster purges at a time; the others find the lock taken and
                # leave it to that one (held until this transaction ends).
                taken = await conn.execute(
                    text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": PURGE_LOCK}
                )
                if not taken.scalar():
                    return PurgeCounts(0, 0, 0, 0)
            counts = [
                (await conn.execute(statement)).rowcount
                for statement in (
                    delete(history).where(history.c.started_at < before),
                    delete(call_logs).where(
                        call_logs.c.updated_at < before, call_logs.c.state.not_in(_UNFINISHED)
                    ),
                    delete(outbox).where(outbox.c.updated_at < before, outbox.c.state != "pending"),
                    delete(sessions).where(sessions.c.expires_at < now),
                )
            ]
        return PurgeCounts(*(int(c) for c in counts))


def _task_row(log: CallLog, fields: dict[str, Any], now: float) -> dict[str, Any]:
    return {
        "call_object": fields["CallObject"],
        "agent": log.agent,
        "kind": "task",
        "fields": json.dumps(fields),
        "state": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "last_error": "",
        "task_id": "",
        "created_at": now,
        "updated_at": now,
    }


def _due(now: float, limit: int, kinds: tuple[str, ...]) -> Any:
    """Pending rows of these kinds whose next attempt is due, oldest first."""
    return (
        select(outbox)
        .where(
            outbox.c.kind.in_(kinds),
            outbox.c.state == "pending",
            outbox.c.next_attempt_at <= now,
        )
        .order_by(outbox.c.next_attempt_at, outbox.c.created_at)
        .limit(limit)
    )


def _row(r: Any) -> OutboxRow:
    return OutboxRow(
        call_object=r["call_object"],
        agent=r["agent"],
        fields=dict(json.loads(r["fields"])),
        state=r["state"],
        attempts=r["attempts"],
        next_attempt_at=r["next_attempt_at"],
        last_error=r["last_error"],
        task_id=r["task_id"],
        created_at=r["created_at"],
        updated_at=r["updated_at"],
        kind=r["kind"],
    )
