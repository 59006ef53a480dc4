"""lead owners: who works the leads behind a customer (from the lead service's events), for access checks

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = "customer_master"


def upgrade() -> None:
    op.create_table(
        "lead_owners",
        sa.Column("lead_id", sa.Text, primary_key=True),
        sa.Column("customer_id", postgresql.UUID(as_uuid=True), nullable=True),
        sa.Column("rep_id", sa.Text, nullable=True),
        sa.Column("team_id", sa.Text, nullable=True),
        sa.Column("owner_at", sa.DateTime(timezone=True), nullable=True),
        schema=S,
    )
    op.create_index("ix_lead_owners_customer_id", "lead_owners", ["customer_id"], schema=S)


def downgrade() -> None:
    op.drop_index("ix_lead_owners_customer_id", table_name="lead_owners", schema=S)
    op.drop_table("lead_owners", schema=S)
