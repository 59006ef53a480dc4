"""drop rr_cursors: the per-rule round-robin cursor, unused since rotation counts (rr_counts) replaced it

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-08 00:30:00

Nothing reads or writes lead.rr_cursors: a rotation is kept per team and rep in lead.rr_counts and made
exclusive by advisory locks. Downgrade brings the empty table back.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = "lead"


def upgrade() -> None:
    op.drop_table("rr_cursors", schema=S)


def downgrade() -> None:
    op.create_table(
        "rr_cursors",
        sa.Column("rule_id", sa.UUID(as_uuid=False), nullable=False),
        sa.Column("last_rep_id", sa.UUID(as_uuid=False), nullable=True),
        sa.PrimaryKeyConstraint("rule_id", name=op.f("pk_rr_cursors")),
        schema=S,
    )
