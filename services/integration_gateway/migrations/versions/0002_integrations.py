"""Signed sources, outbound subscriptions and their deliveries, the external dependency register.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SCHEMA = "integration_gateway"
NOW = sa.func.now()


def upgrade() -> None:
    op.add_column("webhook_receipts", sa.Column("raw_body", sa.Text(), nullable=True), schema=SCHEMA)
    op.add_column("webhook_receipts", sa.Column("webhook_id", sa.Text(), nullable=True), schema=SCHEMA)
    op.create_table(
        "sources",
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("secret", sa.Text(), nullable=True),
        sa.Column("mapping", JSONB(), nullable=False, server_default="{}"),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.PrimaryKeyConstraint("source", name="pk_sources"),
        schema=SCHEMA,
    )
    op.create_table(
        "subscriptions",
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("events", JSONB(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False, server_default=""),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("previous_secret", sa.Text(), nullable=True),
        sa.Column("previous_secret_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("disabled_reason", sa.Text(), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.PrimaryKeyConstraint("id", name="pk_subscriptions"),
        schema=SCHEMA,
    )
    op.create_table(
        "deliveries",
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("seq", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("subscription_id", UUID(as_uuid=True), nullable=False),
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("ordering_key", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("last_status_code", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text(), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_deliveries"),
        sa.ForeignKeyConstraint(
            ["subscription_id"], [f"{SCHEMA}.subscriptions.id"], name="fk_deliveries_subscription_id_subscriptions"
        ),
        sa.UniqueConstraint("subscription_id", "event_id", name="uq_deliveries_subscription_id_event_id"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_deliveries_pending_due", "deliveries", ["next_attempt_at"], schema=SCHEMA,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index(
        "ix_deliveries_subscription_key_seq", "deliveries", ["subscription_id", "ordering_key", "seq"], schema=SCHEMA
    )
    op.create_table(
        "dependencies",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("sla", sa.Text(), nullable=False, server_default=""),
        sa.Column("owner", sa.Text(), nullable=False, server_default=""),
        sa.Column("probe_url", sa.Text(), nullable=False, server_default=""),
        sa.Column("up", sa.Boolean(), nullable=True),
        sa.Column("since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_probe_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False, server_default=""),
        sa.PrimaryKeyConstraint("name", name="pk_dependencies"),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("dependencies", schema=SCHEMA)
    op.drop_table("deliveries", schema=SCHEMA)
    op.drop_table("subscriptions", schema=SCHEMA)
    op.drop_table("sources", schema=SCHEMA)
    op.drop_column("webhook_receipts", "webhook_id", schema=SCHEMA)
    op.drop_column("webhook_receipts", "raw_body", schema=SCHEMA)
