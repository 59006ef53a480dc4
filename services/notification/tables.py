"""Tables of the notification schema: notifications, deliveries and attempts, the inbox, channels and recipients."""

from __future__ import annotations

import uuid

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

from crm_common.db import service_metadata

metadata = service_metadata("notification")

notifications = Table(
    "notifications",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True, default=uuid.uuid4),
    # "<event id>:<channel>": one notification per triggering event and channel, whatever redelivers it.
    Column("idempotency_key", Text, nullable=False, unique=True),
    # Ids owned by other services are kept as text: a malformed one must not stop the notification.
    Column("recipient_id", Text, nullable=False, index=True),
    Column("channel", Text, nullable=False),
    Column("lead_id", Text, nullable=False, index=True),
    Column("kind", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("reason", Text, nullable=False, server_default=""),
    Column("title", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("delivered_at", DateTime(timezone=True), nullable=True),
    Column("urgent", Boolean, nullable=False, server_default=text("false")),
    # When the triggering event happened: the start of the event-to-delivered clock.
    Column("event_at", DateTime(timezone=True), nullable=True),
    # 0 for a first notification; n for the n-th step of an escalation chain.
    Column("escalation_level", Integer, nullable=False, server_default=text("0")),
    Column("team_id", Text, nullable=False, server_default=""),
    Column("escalated_to", Text, nullable=False, server_default=""),
)

attempts = Table(
    "attempts",
    metadata,
    Column("notification_id", UUID(as_uuid=True), ForeignKey(notifications.c.id, ondelete="CASCADE"), primary_key=True),
    Column("number", Integer, primary_key=True),
    Column("channel", Text, nullable=False),
    Column("outcome", Text, nullable=False),
    Column("detail", Text, nullable=False, server_default=""),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_attempts_channel_at", "channel", "at"),
)

inbox_messages = Table(
    "inbox_messages",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True, default=uuid.uuid4),
    Column("recipient_id", Text, nullable=False),
    Column("notification_id", UUID(as_uuid=True), ForeignKey(notifications.c.id, ondelete="CASCADE"), nullable=False, unique=True),
    Column("title", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_inbox_messages_recipient_id_created_at", "recipient_id", "created_at"),
)

# A notification's course through one channel of the recipient's fallback chain. The row is written
# (status `sending`, lease set) and committed BEFORE the provider is called, so a crash between the
# send and its record leaves a trace that the reconciler resolves.
deliveries = Table(
    "deliveries",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True, default=uuid.uuid4),
    Column("notification_id", UUID(as_uuid=True), ForeignKey(notifications.c.id, ondelete="CASCADE"), nullable=False),
    Column("channel", Text, nullable=False),
    Column("position", Integer, nullable=False),
    Column("status", Text, nullable=False),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    # Handed to the provider as its client message id / dedupe key: "<notification id>:<channel>".
    Column("send_key", Text, nullable=False),
    Column("lease_until", DateTime(timezone=True), nullable=True),
    # Set when the delivery went out merged into a digest: such a send is never resent (its composition varies).
    Column("digest_key", Text, nullable=False, server_default=""),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("last_error", Text, nullable=False, server_default=""),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("notification_id", "channel"),
    Index("ix_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
)

# One row per provider call, for per-channel rate limits shared by every replica.
channel_sends = Table(
    "channel_sends",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("channel", Text, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_channel_sends_channel_at", "channel", "at"),
)

channels = Table(
    "channels",
    metadata,
    Column("name", Text, primary_key=True),
    Column("kind", Text, nullable=False),
    Column("settings", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    # Where each secret is read from ("env:NAME" or "file:/path"); never the secret itself.
    Column("secret_refs", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("rate_limit_per_minute", Integer, nullable=False, server_default=text("0")),
    Column("enabled", Boolean, nullable=False, server_default=text("true")),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# Access tokens shared by every replica; one refresher at a time (advisory lock).
channel_tokens = Table(
    "channel_tokens",
    metadata,
    Column("channel", Text, primary_key=True),
    Column("token", Text, nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("refreshed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

channel_health = Table(
    "channel_health",
    metadata,
    Column("channel", Text, primary_key=True),
    Column("up", Boolean, nullable=False),
    Column("degraded", Boolean, nullable=False),
    Column("detail", Text, nullable=False, server_default=""),
    Column("token_expires_at", DateTime(timezone=True), nullable=True),
    Column("failure_rate", Float, nullable=False, server_default=text("0")),
    Column("checked_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

templates = Table(
    "templates",
    metadata,
    Column("name", Text, primary_key=True),
    Column("title", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("placeholder", Text, nullable=False),
    Column("fields", ARRAY(Text), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# Keyed by the same ids as the lead service's reps (and managers, operations owners).
recipients = Table(
    "recipients",
    metadata,
    Column("id", Text, primary_key=True),
    Column("name", Text, nullable=False, server_default=""),
    Column("team_id", Text, nullable=False, server_default=""),
    Column("manager_id", Text, nullable=False, server_default=""),
    Column("wecom_user_id", Text, nullable=False, server_default=""),
    Column("mobile", Text, nullable=False, server_default=""),
    Column("email", Text, nullable=False, server_default=""),
    Column("dingtalk_mobile", Text, nullable=False, server_default=""),
    Column("fallback_chain", ARRAY(Text), nullable=False),
    Column("quiet_start", Text, nullable=False, server_default=""),
    Column("quiet_end", Text, nullable=False, server_default=""),
    Column("time_zone", Text, nullable=False, server_default="Asia/Shanghai"),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

escalation_chains = Table(
    "escalation_chains",
    metadata,
    Column("team_id", Text, primary_key=True),
    # "manager" (the recipient's manager) or a recipient id, in order.
    Column("steps", ARRAY(Text), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
