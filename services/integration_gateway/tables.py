"""Tables of the integration_gateway schema: every inbound webhook and what became of it."""

from __future__ import annotations

import uuid

from sqlalchemy import Column, DateTime, Index, Integer, Table, Text, UniqueConstraint, func, text
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
