"""The outbox carries more than Tasks: each row says what it writes (`kind`).

Salesforce Voice writes (a VoiceCall created when the phone rings, its update when the call
ends, routing cleared for a missed call) share the Task outbox and its exactly-once rules;
each writer drains only its own kinds. Rows from before are Tasks.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="task"))
    op.create_index("outbox_due_by_kind", "outbox", ["kind", "state", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("outbox_due_by_kind", "outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("kind")
