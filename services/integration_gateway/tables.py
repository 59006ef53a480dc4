"""Tables of the integration_gateway schema: every inbound webhook and what became of it."""

from __future__ import annotations

import uuid

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

from crm_common.db import service_metadata

metadata = service_metadata("integration_gateway")

# received -> captured | rejected | failed; failed (and stalled received) receipts are retried.
RECEIVED, CAPTURED, REJECTED, FAILED = "received", "captured", "rejected", "failed"
RETRYABLE = (RECEIVED, FAILED)

webhook_receipts = Table(
    "webhook_receipts",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True, default=uuid.uuid4),
    Column("source", Text, nullable=False),
    # Unique per source; NULL (no key given) never collides, so keyless webhooks are all kept.
    Column("idempotency_key", Text, nullable=True),
    Column("payload", JSONB, nullable=False),
    Column("status", Text, nullable=False),
    Column("lead_id", Text, nullable=True),
    Column("error", Text, nullable=False, server_default=""),
    # The lead service's field violations, replayed to a caller who repeats a rejected webhook.
    Column("violations", JSONB, nullable=True),
    # A signed source's receipts: the body as received and its webhook-id (NULL for unsigned sources).
    Column("raw_body", Text, nullable=True),
    Column("webhook_id", Text, nullable=True),
    Column("capture_attempts", Integer, nullable=False, server_default="0"),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("source", "idempotency_key"),
    Index(
        "ix_webhook_receipts_retryable_updated_at",
        "updated_at",
        postgresql_where=text("status IN ('received', 'failed')"),
    ),
)

# An inbound source's configuration; a source without a row (or without a secret) uses the API-key route.
sources = Table(
    "sources",
    metadata,
    Column("source", Text, primary_key=True),
    Column("secret", Text, nullable=True),
    # {lead field: dotted path in the payload}, validated on save.
    Column("mapping", JSONB, nullable=False, server_default="{}"),
    Column("kind", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

ACTIVE, DISABLED = "active", "disabled"
PENDING, SUCCEEDED, DEAD = "pending", "succeeded", "failed"

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True, default=uuid.uuid4),
    Column("url", Text, nullable=False),
    Column("events", JSONB, nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("secret", Text, nullable=False),
    # Signs beside the current secret until previous_secret_until (a receiver rotating its copy misses nothing).
    Column("previous_secret", Text, nullable=True),
    Column("previous_secret_until", DateTime(timezone=True), nullable=True),
    Column("status", Text, nullable=False),
    Column("disabled_reason", Text, nullable=False, server_default=""),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True, default=uuid.uuid4),
    # Order of arrival: per (subscription, ordering_key), a delivery waits for every earlier pending one.
    Column("seq", BigInteger, Identity(), nullable=False),
    Column("subscription_id", UUID(as_uuid=True), ForeignKey(subscriptions.c.id), nullable=False),
    Column("event_id", Text, nullable=False),
    Column("type", Text, nullable=False),
    Column("ordering_key", Text, nullable=False),
    # The JSON body exactly as signed and sent.
    Column("body", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("last_status_code", Integer, nullable=False, server_default="0"),
    Column("last_error", Text, nullable=False, server_default=""),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("delivered_at", DateTime(timezone=True), nullable=True),
    Column("failed_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("subscription_id", "event_id"),
    Index("ix_deliveries_pending_due", "next_attempt_at", postgresql_where=text("status = 'pending'")),
    Index("ix_deliveries_subscription_key_seq", "subscription_id", "ordering_key", "seq"),
)

# The external dependency register: what the system relies on, who owns it, and what its probe last saw.
dependencies = Table(
    "dependencies",
    metadata,
    Column("name", Text, primary_key=True),
    Column("kind", Text, nullable=False),
    Column("sla", Text, nullable=False, server_default=""),
    Column("owner", Text, nullable=False, server_default=""),
    Column("probe_url", Text, nullable=False, server_default=""),
    Column("up", Boolean, nullable=True),
    Column("since", DateTime(timezone=True), nullable=True),
    Column("last_probe_at", DateTime(timezone=True), nullable=True),
    Column("detail", Text, nullable=False, server_default=""),
)
