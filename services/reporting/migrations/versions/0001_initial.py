"""The lead response projection, and the bus tables.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from crm_common.bus.tables import create_bus_tables

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "reporting"


def upgrade() -> None:
    op.create_table(
        "lead_response",
        sa.Column("lead_id", sa.Text(), nullable=False),
        sa.Column("channel", sa.Text(), nullable=True),
        sa.Column("captured_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_contact_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("lead_id", name="pk_lead_response"),
        schema=SCHEMA,
    )
    op.create_index("ix_lead_response_captured_at", "lead_response", ["captured_at"], schema=SCHEMA)
    op.create_index("ix_lead_response_channel_captured_at", "lead_response", ["channel", "captured_at"], schema=SCHEMA)
    create_bus_tables(op.get_bind(), SCHEMA)


def downgrade() -> None:
    op.drop_table("inbox", schema=SCHEMA)
    op.drop_table("outbox", schema=SCHEMA)
    op.drop_table("lead_response", schema=SCHEMA)
