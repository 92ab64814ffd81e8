"""The store's tables, as the latest migration leaves them (migrations/ builds them)."""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

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
# The phone each signed-in hot-desk agent sits at; a device has at most one agent (UNIQUE).
agent_seats = Table(
    "agent_seats",
    metadata,
    Column("address", String(80), primary_key=True),
    Column("device", String(32), nullable=False, unique=True),
    Column("since", Float, nullable=False),
)
agent_settings = Table(
    "agent_settings",
    metadata,
    Column("address", String(80), primary_key=True),
    Column("settings", Text, nullable=False),
)
favorites = Table(
    "favorites",
    metadata,
    Column("address", String(80), nullable=False),
    Column("number", String(40), nullable=False),
    Column("name", String(80), nullable=False),
    Column("object", String(40), nullable=False),
    Column("record_id", String(18), nullable=False),
    PrimaryKeyConstraint("address", "number"),
)
history = Table(
    "history",
    metadata,
    Column("address", String(80), nullable=False),
    Column("call_id", String(64), nullable=False),
    Column("direction", String(16), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("placed", Integer, nullable=False),
    Column("number", String(40), nullable=False),
    Column("name", String(120), nullable=False),
    Column("object", String(40), nullable=False),
    Column("record_id", String(18), nullable=False),
    Column("started_at", Float, nullable=False),
    Column("duration", Float, nullable=False),
    PrimaryKeyConstraint("address", "call_id"),
    Index("history_by_agent", "address", "started_at"),
)
quick_notes = Table(
    "quick_notes",
    metadata,
    Column("address", String(80), nullable=False),
    Column("text", String(200), nullable=False),
    PrimaryKeyConstraint("address", "text"),
)
sign_in_failures = Table(
    "sign_in_failures",
    metadata,
    Column("address", String(80), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("last_failure", Float, nullable=False),
    Column("locked_until", Float, nullable=False),
)
# One agent's call from its first event to its Task: the durable half of "logged exactly once".
call_logs = Table(
    "call_logs",
    metadata,
    Column("agent", String(80), nullable=False),
    Column("call_id", String(64), nullable=False),
    Column("state", String(16), nullable=False),
    Column("data", Text, nullable=False),
    Column("updated_at", Float, nullable=False),
    # Where the PBX had the call; empty in logs from before the proxy had its own call ids.
    Column("device", String(32), nullable=False, server_default=""),
    Column("pbx_call_id", String(64), nullable=False, server_default=""),
    PrimaryKeyConstraint("agent", "call_id"),
    Index("call_logs_by_state", "state", "updated_at"),
)
# Task writes waiting for Salesforce; a row is committed before the first write is tried.
outbox = Table(
    "outbox",
    metadata,
    Column("call_object", String(160), primary_key=True),
    Column("agent", String(80), nullable=False),
    Column("fields", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", Float, nullable=False),
    Column("last_error", Text, nullable=False),
    Column("task_id", String(18), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    # What the row writes: "task", or a Salesforce Voice write ("voice_create", ...).
    Column("kind", String(16), nullable=False, server_default="task"),
    Index("outbox_due", "state", "next_attempt_at"),
    Index("outbox_due_by_kind", "kind", "state", "next_attempt_at"),
)
