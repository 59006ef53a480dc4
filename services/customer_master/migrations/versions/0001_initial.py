"""Customers, their source records, and the bus tables.

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

SCHEMA = "customer_master"


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("name", sa.Text(), nullable=False, server_default=""),
        sa.Column("company", sa.Text(), nullable=True),
        sa.Column("company_normalized", sa.Text(), nullable=True),
        sa.Column("phone_e164", sa.Text(), nullable=True),
        sa.Column("email_normalized", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("id", name="pk_customers"),
        schema=SCHEMA,
    )
    for column in ("phone_e164", "email_normalized", "company_normalized"):
        op.create_index(
            f"uq_customers_{column}",
            "customers",
            [column],
            unique=True,
            schema=SCHEMA,
            postgresql_where=sa.text(f"{column} IS NOT NULL"),
        )
    op.create_table(
        "customer_sources",
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("customer_id", UUID(as_uuid=True), nullable=False),
        sa.Column("source_ref", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("company", sa.Text(), nullable=True),
        sa.Column("phone", sa.Text(), nullable=True),
        sa.Column("email", sa.Text(), nullable=True),
        sa.Column("matched_on", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("id", name="pk_customer_sources"),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            [f"{SCHEMA}.customers.id"],
            name="fk_customer_sources_customer_id_customers",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("customer_id", "source_ref", name="uq_customer_sources_customer_id_source_ref"),
        schema=SCHEMA,
    )
    create_bus_tables(op.get_bind(), SCHEMA)


def downgrade() -> None:
    op.drop_table("inbox", schema=SCHEMA)
    op.drop_table("outbox", schema=SCHEMA)
    op.drop_table("customer_sources", schema=SCHEMA)
    op.drop_table("customers", schema=SCHEMA)
