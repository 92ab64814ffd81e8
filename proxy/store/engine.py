"""The SQL engine the store's queries share, and the one way to upsert on either database."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Table, event, inspect, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.sql.dml import Insert

from proxy.errors import ProxyError

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Any constant shared by every proxy process: two proxies starting at once migrate in turn.
_MIGRATION_LOCK = 4711_2026


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers proceed while the writer commits; a busy timeout beats "database is
    # locked"; synchronous=NORMAL is durable across process crashes in WAL mode (only a power
    # cut can lose the last commits), which is the crash the outbox must survive.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


class SchemaTooNew(ProxyError):
    """The database was migrated by a newer version than this one."""


def migrations() -> ScriptDirectory:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config)


def too_new(revision: str | None) -> str:
    """Why this version cannot run on a schema at `revision`, or "" when it can."""
    scripts = migrations()
    if revision is None or revision in {script.revision for script in scripts.walk_revisions()}:
        return ""
    # Alembic cannot tell a newer schema from an unrelated one, and nothing promises that a
    # later migration leaves this version's tables as it knows them: stop, saying why.
    return (
        f"the database's schema is at {revision}, which a newer softphone-proxy made; this "
        f"version knows up to {scripts.get_current_head()} and does not start on it. Upgrade "
        f"this node; to go back to this version, restore the backup taken before the upgrade"
    )


def _migrate(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
    reason = too_new(MigrationContext.configure(conn).get_current_revision())
    if reason:
        raise SchemaTooNew(reason)
    tables = set(inspect(conn).get_table_names())
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = conn
    if "agents" in tables and "alembic_version" not in tables:
        # A database made before migrations existed holds exactly revision 0001's tables.
        command.stamp(config, "0001")
    command.upgrade(config, "head")


class SqlBase:
    """Owns the engine; the query mixins use `engine` and `upsert`."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine: AsyncEngine | None = None

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            raise RuntimeError("SqlStore used outside 'async with'")
        return self._engine

    async def start(self) -> None:
        # A ping before each checkout finds PostgreSQL connections the server dropped; a
        # SQLite file has no server, and the ping would double every query's cost.
        pre_ping = not self.url.startswith("sqlite")
        # Each aiosqlite connection is a thread of its own: past the pool's 5, every overflow
        # connection was a new thread opened and closed again, over and over under load (the
        # scale bench's threads were numbered past 1,200). Keep enough open instead.
        sizes = {"pool_size": 20, "max_overflow": 10} if self.url.startswith("sqlite") else {}
        self._engine = create_async_engine(self.url, pool_pre_ping=pre_ping, **sizes)
        if self._engine.dialect.name == "sqlite":
            event.listen(self._engine.sync_engine, "connect", _sqlite_pragmas)
        async with self._engine.begin() as conn:
            await conn.run_sync(_migrate)

    async def aclose(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None

    def insert(self, table: Table) -> Any:
        """An INSERT that knows ON CONFLICT on this database (SQLite and PostgreSQL agree)."""
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        statement: Insert = dialect.insert(table)
        return statement

    def upsert_many(self, table: Table, columns: list[str], keys: list[str]) -> Any:
        """One upsert statement for rows given as parameters (`execute(statement, rows)`):
        built and compiled once, however many rows and calls; rows are applied in order, so a
        row may be written twice in one call (a ring and its answer in one group commit)."""
        statement = self.insert(table)
        changes = {c: statement.excluded[c] for c in columns if c not in keys}
        return statement.on_conflict_do_update(index_elements=keys, set_=changes)

    def upsert(self, table: Table, values: dict[str, Any], keys: list[str]) -> Any:
        statement = self.insert(table).values(values)
        changes = {k: v for k, v in values.items() if k not in keys}
        return statement.on_conflict_do_update(index_elements=keys, set_=changes)
