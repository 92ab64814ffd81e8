"""The SQL store on SQLAlchemy 2 async: SQLite (default) or PostgreSQL, migrated at start."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from proxy.seams import Resource
from proxy.store.base import AgentKind, AgentRecord
from proxy.store.calls import CallLogQueries
from proxy.store.data import AgentDataQueries
from proxy.store.schema import agent_seats, agents, sessions, sign_in_failures


class SqlStore(AgentDataQueries, CallLogQueries, Resource):
    async def put_agent(self, agent: AgentRecord) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(self.upsert(agents, _agent_values(agent), ["address"]))

    async def put_agents(self, roster: list[AgentRecord]) -> None:
        seen: set[str] = set()
        for agent in roster:
            if agent.address in seen:
                raise ValueError(f"agent {agent.address!r} is given twice")
            seen.add(agent.address)
        if not roster:
            return
        statement = self.insert(agents)
        # One statement for every row (SQLAlchemy batches it as multi-row VALUES), replacing
        # the agents already there, in one transaction: 10,000 agents in one commit.
        statement = statement.on_conflict_do_update(
            index_elements=["address"],
            set_={c: statement.excluded[c] for c in _AGENT_COLUMNS if c != "address"},
        )
        async with self.engine.begin() as conn:
            await conn.execute(statement, [_agent_values(agent) for agent in roster])

    async def get_agent(self, address: str) -> AgentRecord | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(agents).where(agents.c.address == address))).first()
        return None if row is None else _agent(row._mapping)

    async def list_agents(self) -> list[AgentRecord]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(agents).order_by(agents.c.address))
            return [_agent(row._mapping) for row in rows]

    async def roster_fingerprint(self) -> str:
        c = agents.c
        # Tab and newline never occur in these columns (addresses, extensions, kinds, ids).
        line = c.address + "\t" + c.extension + "\t" + c.kind + "\t" + c.salesforce_user_id
        ordered = select(line.label("line")).order_by(c.address).subquery()
        query = select(func.count(), func.aggregate_strings(ordered.c.line, "\n"))
        async with self.engine.connect() as conn:
            count, lines = (await conn.execute(query)).one()
        return f"{count}\n{lines or ''}"

    async def delete_agent(self, address: str) -> bool:
        async with self.engine.begin() as conn:
            await conn.execute(delete(sessions).where(sessions.c.address == address))
            await conn.execute(delete(agent_seats).where(agent_seats.c.address == address))
            gone = await conn.execute(delete(agents).where(agents.c.address == address))
        return bool(gone.rowcount)

    async def create_session(self, token_hash: str, address: str, expires_at: float) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                sessions.insert().values(
                    token_hash=token_hash, address=address, expires_at=expires_at
                )
            )

    async def session_agent(self, token_hash: str, now: float) -> AgentRecord | None:
        query = (
            select(agents)
            .join(sessions, sessions.c.address == agents.c.address)
            .where(sessions.c.token_hash == token_hash, sessions.c.expires_at > now)
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _agent(row._mapping)

    async def delete_session(self, token_hash: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(delete(sessions).where(sessions.c.token_hash == token_hash))

    async def signed_in_agents(self, now: float) -> set[str]:
        query = select(sessions.c.address).where(sessions.c.expires_at > now).distinct()
        async with self.engine.connect() as conn:
            return set((await conn.execute(query)).scalars().all())

    async def take_seat(self, address: str, device: str, now: float) -> bool:
        holder = select(agent_seats.c.address).where(agent_seats.c.device == device)
        values = {"address": address, "device": device, "since": now}
        try:
            async with self.engine.begin() as conn:
                found = (await conn.execute(holder)).scalar_one_or_none()
                if found is not None and found != address:
                    return False
                await conn.execute(self.upsert(agent_seats, values, ["address"]))
        except IntegrityError:  # another proxy took the device between our read and write
            return False
        return True

    async def leave_seat(self, address: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(delete(agent_seats).where(agent_seats.c.address == address))

    async def list_seats(self) -> dict[str, str]:
        query = select(agent_seats.c.address, agent_seats.c.device)
        async with self.engine.connect() as conn:
            return {row.address: row.device for row in await conn.execute(query)}

    async def locked_until(self, address: str) -> float:
        query = select(sign_in_failures.c.locked_until).where(sign_in_failures.c.address == address)
        async with self.engine.connect() as conn:
            until = (await conn.execute(query)).scalar_one_or_none()
        return float(until or 0.0)

    async def sign_in_failed(
        self, address: str, now: float, *, limit: int, window: float, lock_seconds: float
    ) -> float:
        table = sign_in_failures
        async with self.engine.begin() as conn:
            row = (
                (await conn.execute(select(table).where(table.c.address == address)))
                .mappings()
                .first()
            )
            recent = row is not None and now - row["last_failure"] < window
            failures = (row["failures"] if recent and row is not None else 0) + 1
            locked = now + lock_seconds if failures >= limit else 0.0
            values = {
                "address": address,
                "failures": 0 if locked else failures,
                "last_failure": now,
                "locked_until": locked,
            }
            await conn.execute(self.upsert(table, values, ["address"]))
        return locked

    async def sign_in_succeeded(self, address: str) -> None:
        where = sign_in_failures.c.address == address
        # Read first: almost every sign-in has no failures to forget, and an unconditional
        # DELETE takes SQLite's write lock, which a sign-in storm turned into "database is
        # locked" 500s (issue 16).
        async with self.engine.connect() as conn:
            found = (await conn.execute(select(sign_in_failures.c.address).where(where))).first()
        if found is not None:
            async with self.engine.begin() as conn:
                await conn.execute(delete(sign_in_failures).where(where))

    async def rehashed(self, address: str, old_hash: str, new_hash: str) -> None:
        # Only over the hash just verified: a password the admin set meanwhile stays.
        query = (
            update(agents)
            .where(agents.c.address == address, agents.c.password_hash == old_hash)
            .values(password_hash=new_hash)
        )
        async with self.engine.begin() as conn:
            await conn.execute(query)


_AGENT_COLUMNS = ("address", "name", "extension", "kind", "password_hash", "salesforce_user_id")


def _agent_values(agent: AgentRecord) -> dict[str, str]:
    return {column: getattr(agent, column) for column in _AGENT_COLUMNS}


def _agent(row: Any) -> AgentRecord:
    kind: AgentKind = row["kind"]
    return AgentRecord(
        address=row["address"],
        name=row["name"],
        extension=row["extension"],
        kind=kind,
        password_hash=row["password_hash"],
        salesforce_user_id=row["salesforce_user_id"],
    )
