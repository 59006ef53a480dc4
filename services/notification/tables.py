"""Tables of the notification schema: notifications, their delivery attempts and the in-app inbox."""

from __future__ import annotations

import uuid

from sqlalchemy import Column, DateTime, ForeignKey, Index, Integer, Table, Text, func
from sqlalchemy.dialects.postgresql import UUID

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
