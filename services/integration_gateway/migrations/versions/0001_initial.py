"""Webhook receipts, and the outbox and inbox of the bus.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

from crm_common.bus.tables import create_bus_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SCHEMA = "integration_gateway"


def upgrade() -> None:
    op.create_table(
        "webhook_receipts",
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("idempotency_key", sa.Text(), nullable=True),
        sa.Column("payload", JSONB(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("lead_id", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=False, server_default=""),
        sa.Column("violations", JSONB(), nullable=True),
        sa.Column("capture_attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_receipts"),
        sa.UniqueConstraint("source", "idempotency_key", name="uq_webhook_receipts_source_idempotency_key"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_webhook_receipts_retryable_updated_at",
        "webhook_receipts",
        ["updated_at"],
        schema=SCHEMA,
        postgresql_where=sa.text("status IN ('received', 'failed')"),
    )
    create_bus_tables(op.get_bind(), SCHEMA)


def downgrade() -> None:
    op.drop_table("outbox", schema=SCHEMA)
    op.drop_table("inbox", schema=SCHEMA)
    op.drop_table("webhook_receipts", schema=SCHEMA)
