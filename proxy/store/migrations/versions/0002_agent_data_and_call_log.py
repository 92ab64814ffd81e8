"""Agent settings, favorites, history and quick notes; the call log and its Task outbox."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.create_table(
        "agent_settings",
        sa.Column("address", sa.String(80), primary_key=True),
        sa.Column("settings", sa.Text, nullable=False),
    )
    op.create_table(
        "favorites",
        sa.Column("address", sa.String(80), nullable=False),
        sa.Column("number", sa.String(40), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("object", sa.String(40), nullable=False),
        sa.Column("record_id", sa.String(18), nullable=False),
        sa.PrimaryKeyConstraint("address", "number"),
    )
    op.create_table(
        "history",
        sa.Column("address", sa.String(80), nullable=False),
        sa.Column("call_id", sa.String(64), nullable=False),
        sa.Column("direction", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("placed", sa.Integer, nullable=False),
        sa.Column("number", sa.String(40), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("object", sa.String(40), nullable=False),
        sa.Column("record_id", sa.String(18), nullable=False),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("duration", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("address", "call_id"),
    )
    op.create_index("history_by_agent", "history", ["address", "started_at"])
    op.create_table(
        "quick_notes",
        sa.Column("address", sa.String(80), nullable=False),
        sa.Column("text", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("address", "text"),
    )
    op.create_table(
        "call_logs",
        sa.Column("agent", sa.String(80), nullable=False),
        sa.Column("call_id", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("agent", "call_id"),
    )
    op.create_index("call_logs_by_state", "call_logs", ["state", "updated_at"])
    op.create_table(
        "outbox",
        sa.Column("call_object", sa.String(160), primary_key=True),
        sa.Column("agent", sa.String(80), nullable=False),
        sa.Column("fields", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.Float, nullable=False),
        sa.Column("last_error", sa.Text, nullable=False),
        sa.Column("task_id", sa.String(18), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_index("outbox_due", "outbox", ["state", "next_attempt_at"])


def downgrade() -> None:
    for index, table in (("outbox_due", "outbox"), ("call_logs_by_state", "call_logs")):
        op.drop_index(index, table_name=table)
    op.drop_index("history_by_agent", table_name="history")
    for table in ("outbox", "call_logs", "quick_notes", "history", "favorites", "agent_settings"):
        op.drop_table(table)
