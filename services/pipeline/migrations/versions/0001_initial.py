"""Opportunities, their stage history, and the bus tables.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

from crm_common.bus.tables import create_bus_tables

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "pipeline"


def upgrade() -> None:
    op.create_table(
        "opportunities",
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("lead_id", sa.Text(), nullable=False),
        sa.Column("customer_id", sa.Text(), nullable=True),
        sa.Column("owner_id", sa.Text(), nullable=True),
        sa.Column("stage", sa.Text(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_opportunities"),
        sa.UniqueConstraint("lead_id", name="uq_opportunities_lead_id"),
        schema=SCHEMA,
    )
    op.create_table(
        "stage_history",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("opportunity_id", UUID(as_uuid=True), nullable=False),
        sa.Column("stage", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_stage_history"),
        sa.ForeignKeyConstraint(
            ["opportunity_id"],
            [f"{SCHEMA}.opportunities.id"],
            name="fk_stage_history_opportunity_id_opportunities",
            ondelete="CASCADE",
        ),
        schema=SCHEMA,
    )
    op.create_index("ix_stage_history_opportunity_id_at", "stage_history", ["opportunity_id", "at"], schema=SCHEMA)
    create_bus_tables(op.get_bind(), SCHEMA)


def downgrade() -> None:
    op.drop_table("inbox", schema=SCHEMA)
    op.drop_table("outbox", schema=SCHEMA)
    op.drop_table("stage_history", schema=SCHEMA)
    op.drop_table("opportunities", schema=SCHEMA)
