"""Channels, tokens, health, templates, recipients, escalation chains, deliveries and the send log.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SCHEMA = "notification"


def _now() -> sa.sql.elements.ColumnElement:
    return sa.func.now()


def upgrade() -> None:
    op.add_column("notifications", sa.Column("urgent", sa.Boolean(), nullable=False, server_default=sa.text("false")), schema=SCHEMA)
    op.add_column("notifications", sa.Column("event_at", sa.DateTime(timezone=True), nullable=True), schema=SCHEMA)
    op.add_column(
        "notifications", sa.Column("escalation_level", sa.Integer(), nullable=False, server_default=sa.text("0")), schema=SCHEMA
    )
    op.add_column("notifications", sa.Column("team_id", sa.Text(), nullable=False, server_default=""), schema=SCHEMA)
    op.add_column("notifications", sa.Column("escalated_to", sa.Text(), nullable=False, server_default=""), schema=SCHEMA)
    op.create_index("ix_attempts_channel_at", "attempts", ["channel", "at"], schema=SCHEMA)
    op.create_table(
        "deliveries",
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("notification_id", UUID(as_uuid=True), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("send_key", sa.Text(), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("digest_key", sa.Text(), nullable=False, server_default=""),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.Column("last_error", sa.Text(), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.PrimaryKeyConstraint("id", name="pk_deliveries"),
        sa.UniqueConstraint("notification_id", "channel", name="uq_deliveries_notification_id_channel"),
        sa.ForeignKeyConstraint(
            ["notification_id"], [f"{SCHEMA}.notifications.id"],
            name="fk_deliveries_notification_id_notifications", ondelete="CASCADE",
        ),
        schema=SCHEMA,
    )
    op.create_index("ix_deliveries_status_next_attempt_at", "deliveries", ["status", "next_attempt_at"], schema=SCHEMA)
    op.create_table(
        "channel_sends",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.PrimaryKeyConstraint("id", name="pk_channel_sends"),
        schema=SCHEMA,
    )
    op.create_index("ix_channel_sends_channel_at", "channel_sends", ["channel", "at"], schema=SCHEMA)
    op.create_table(
        "channels",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("settings", JSONB(), nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("secret_refs", JSONB(), nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("rate_limit_per_minute", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("enabled", sa.Boolean(), nullable=False, server_default=sa.text("true")),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.PrimaryKeyConstraint("name", name="pk_channels"),
        schema=SCHEMA,
    )
    op.create_table(
        "channel_tokens",
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("token", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.PrimaryKeyConstraint("channel", name="pk_channel_tokens"),
        schema=SCHEMA,
    )
    op.create_table(
        "channel_health",
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("up", sa.Boolean(), nullable=False),
        sa.Column("degraded", sa.Boolean(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False, server_default=""),
        sa.Column("token_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failure_rate", sa.Float(), nullable=False, server_default=sa.text("0")),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.PrimaryKeyConstraint("channel", name="pk_channel_health"),
        schema=SCHEMA,
    )
    op.create_table(
        "templates",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("placeholder", sa.Text(), nullable=False),
        sa.Column("fields", ARRAY(sa.Text()), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.PrimaryKeyConstraint("name", name="pk_templates"),
        schema=SCHEMA,
    )
    op.create_table(
        "recipients",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False, server_default=""),
        sa.Column("team_id", sa.Text(), nullable=False, server_default=""),
        sa.Column("manager_id", sa.Text(), nullable=False, server_default=""),
        sa.Column("wecom_user_id", sa.Text(), nullable=False, server_default=""),
        sa.Column("mobile", sa.Text(), nullable=False, server_default=""),
        sa.Column("email", sa.Text(), nullable=False, server_default=""),
        sa.Column("dingtalk_mobile", sa.Text(), nullable=False, server_default=""),
        sa.Column("fallback_chain", ARRAY(sa.Text()), nullable=False),
        sa.Column("quiet_start", sa.Text(), nullable=False, server_default=""),
        sa.Column("quiet_end", sa.Text(), nullable=False, server_default=""),
        sa.Column("time_zone", sa.Text(), nullable=False, server_default="Asia/Shanghai"),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.PrimaryKeyConstraint("id", name="pk_recipients"),
        schema=SCHEMA,
    )
    op.create_table(
        "escalation_chains",
        sa.Column("team_id", sa.Text(), nullable=False),
        sa.Column("steps", ARRAY(sa.Text()), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.PrimaryKeyConstraint("team_id", name="pk_escalation_chains"),
        schema=SCHEMA,
    )


def downgrade() -> None:
    for table in ("escalation_chains", "recipients", "templates", "channel_health", "channel_tokens", "channels", "channel_sends", "deliveries"):
        op.drop_table(table, schema=SCHEMA)
    op.drop_index("ix_attempts_channel_at", table_name="attempts", schema=SCHEMA)
    for column in ("escalated_to", "team_id", "escalation_level", "event_at", "urgent"):
        op.drop_column("notifications", column, schema=SCHEMA)
