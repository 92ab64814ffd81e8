"""Alembic runs migrations on the connection the store hands it (see `SqlStore.start`)."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
# Batch mode lets later migrations alter columns on SQLite too.
context.configure(connection=connection, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
