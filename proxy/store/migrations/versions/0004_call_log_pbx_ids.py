"""Call logs keep where the PBX had the call (device, PBX call id) next to the proxy's own id.

Rows written before stay as they were (empty columns): their `call_id` is the PBX's, and their
Task's CallObject keeps its old form (docs/call-log.md, "Call ids").
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    with op.batch_alter_table("call_logs") as table:
        table.add_column(sa.Column("device", sa.String(32), nullable=False, server_default=""))
        table.add_column(sa.Column("pbx_call_id", sa.String(64), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("call_logs") as table:
        table.drop_column("pbx_call_id")
        table.drop_column("device")
