"""Hot-desk seats: which phone each hot-desk agent sits at, kept across proxy restarts.

`device` is UNIQUE, so two agents can never hold one phone, even when several proxies share
the database and each decides a sign-in on its own.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    op.create_table(
        "agent_seats",
        sa.Column("address", sa.String(80), primary_key=True),
        sa.Column("device", sa.String(32), nullable=False, unique=True),
        sa.Column("since", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("agent_seats")
