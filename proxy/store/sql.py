"""The SQL store on SQLAlchemy 2 async (SQLite by default)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Float, MetaData, String, Table, delete, event, select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from proxy.resource import Resource
from proxy.store.base import AgentKind, AgentRecord

metadata = MetaData()
agents = Table(
    "agents",
    metadata,
    Column("address", String(80), primary_key=True),
    Column("name", String(120), nullable=False),
    Column("extension", String(32), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("password_hash", String(200), nullable=False),
    Column("salesforce_user_id", String(18), nullable=False, server_default=""),
)
sessions = Table(
    "sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("address", String(80), nullable=False, index=True),
    Column("expires_at", Float, nullable=False),
)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers proceed while the writer commits; a busy timeout beats "database is locked".
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


class SqlStore(Resource):
    def __init__(self, url: str) -> None:
        self.url = url
        self._engine: AsyncEngine | None = None

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            raise RuntimeError("SqlStore used outside 'async with'")
        return self._engine

    async def start(self) -> None:
        self._engine = create_async_engine(self.url)
        event.listen(self._engine.sync_engine, "connect", _sqlite_pragmas)
        # Versioned migrations arrive with the call-log outbox; two tables need none yet.
        async with self._engine.begin() as conn:
            await conn.run_sync(metadata.create_all)

    async def aclose(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None

    async def put_agent(self, agent: AgentRecord) -> None:
        values = {
            "address": agent.address,
            "name": agent.name,
            "extension": agent.extension,
            "kind": agent.kind,
            "password_hash": agent.password_hash,
            "salesforce_user_id": agent.salesforce_user_id,
        }
        statement = sqlite_insert(agents).values(values)
        statement = statement.on_conflict_do_update(index_elements=["address"], set_=values)
        async with self.engine.begin() as conn:
            await conn.execute(statement)

    async def get_agent(self, address: str) -> AgentRecord | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(agents).where(agents.c.address == address))).first()
        return None if row is None else _agent(row._mapping)

    async def list_agents(self) -> list[AgentRecord]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(agents).order_by(agents.c.address))
            return [_agent(row._mapping) for row in rows]

    async def create_session(self, token_hash: str, address: str, expires_at: float) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                sessions.insert().values(
                    token_hash=token_hash, address=address, expires_at=expires_at
                )
            )

    async def session_agent(self, token_hash: str, now: float) -> str | None:
        query = select(sessions.c.address).where(
            sessions.c.token_hash == token_hash, sessions.c.expires_at > now
        )
        async with self.engine.connect() as conn:
            address = (await conn.execute(query)).scalar_one_or_none()
        return address

    async def delete_session(self, token_hash: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(delete(sessions).where(sessions.c.token_hash == token_hash))


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
