"""Notifications, their attempts, the in-app inbox, and the outbox and inbox of the bus.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

from crm_common.bus.tables import create_bus_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SCHEMA = "notification"


def upgrade() -> None:
    op.create_table(
        "notifications",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("idempotency_key", sa.Text(), nullable=False),
        sa.Column("recipient_id", sa.Text(), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("lead_id", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False, server_default=""),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_notifications"),
        sa.UniqueConstraint("idempotency_key", name="uq_notifications_idempotency_key"),
        schema=SCHEMA,
    )
    op.create_index("ix_notifications_recipient_id", "notifications", ["recipient_id"], schema=SCHEMA)
    op.create_index("ix_notifications_lead_id", "notifications", ["lead_id"], schema=SCHEMA)
    op.create_table(
        "attempts",
        sa.Column("notification_id", UUID(as_uuid=True), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False, server_default=""),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("notification_id", "number", name="pk_attempts"),
        sa.ForeignKeyConstraint(
            ["notification_id"], [f"{SCHEMA}.notifications.id"],
            name="fk_attempts_notification_id_notifications", ondelete="CASCADE",
        ),
        schema=SCHEMA,
    )
    op.create_table(
        "inbox_messages",
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("recipient_id", sa.Text(), nullable=False),
        sa.Column("notification_id", UUID(as_uuid=True), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("id", name="pk_inbox_messages"),
        sa.UniqueConstraint("notification_id", name="uq_inbox_messages_notification_id"),
        sa.ForeignKeyConstraint(
            ["notification_id"], [f"{SCHEMA}.notifications.id"],
            name="fk_inbox_messages_notification_id_notifications", ondelete="CASCADE",
        ),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_inbox_messages_recipient_id_created_at", "inbox_messages", ["recipient_id", "created_at"], schema=SCHEMA
    )
    create_bus_tables(op.get_bind(), SCHEMA)


def downgrade() -> None:
    op.drop_table("outbox", schema=SCHEMA)
    op.drop_table("inbox", schema=SCHEMA)
    op.drop_table("inbox_messages", schema=SCHEMA)
    op.drop_table("attempts", schema=SCHEMA)
    op.drop_table("notifications", schema=SCHEMA)
