"""pipeline's tables, in schema pipeline."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    PrimaryKeyConstraint,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

from crm_common.db import service_metadata

SCHEMA = "pipeline"
metadata = service_metadata(SCHEMA)

# Every version of every pipeline; the live one is the highest version of a key. Never updated.
pipelines = Table(
    "pipelines",
    metadata,
    Column("key", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("definition", JSONB, nullable=False),
    Column("created_by", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("reason", Text, nullable=False, server_default=""),
    PrimaryKeyConstraint("key", "version", name="pk_pipelines"),
)

# Lead, customer, owner and team ids belong to other services: kept as their text form, never joined on.
# The stage columns change only in pipeline.stages.move (one path for every stage change).
opportunities = Table(
    "opportunities",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("lead_id", Text, nullable=True, unique=True),
    Column("customer_id", Text, nullable=True),
    Column("owner_id", Text, nullable=True),
    Column("stage", Text, nullable=False),
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Column("pipeline_key", Text, nullable=False, server_default="default"),
    Column("pipeline_version", Integer, nullable=False, server_default="1"),
    Column("name", Text, nullable=False, server_default=""),
    Column("amount", Numeric(18, 2), nullable=True),
    Column("currency", Text, nullable=False, server_default=""),
    Column("expected_close_date", Date, nullable=True),
    Column("status", Text, nullable=False, server_default="open"),
    Column("team_id", Text, nullable=False, server_default=""),
    Column("sub_state", Text, nullable=False, server_default=""),
    Column("stage_entered_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    Column("sub_state_entered_at", DateTime(timezone=True), nullable=True),
    Column("version", Integer, nullable=False, server_default="1"),
    Column("block_reason", Text, nullable=False, server_default=""),
    Column("lost_reason", Text, nullable=False, server_default=""),
    Column("closed_at", DateTime(timezone=True), nullable=True),
    Column("next_step_at", DateTime(timezone=True), nullable=True),
    # The stall clock: when the next stall (or re-escalation, or legal review) is due; indexed, never swept.
    Column("stall_due_at", DateTime(timezone=True), nullable=True),
    Column("stall_kind", Text, nullable=False, server_default=""),
    Column("stall_level", Integer, nullable=False, server_default="0"),
    Column("stalled", Boolean, nullable=False, server_default="false"),
    Index("ix_opportunities_stall_due_at", "stall_due_at", postgresql_where=text("stall_due_at IS NOT NULL")),
    Index("ix_opportunities_owner_id", "owner_id"),
    # A skip rule's repeat_customer condition asks whether the customer has a won deal, on every move.
    Index("ix_opportunities_customer_id_won", "customer_id", postgresql_where=text("status = 'won'")),
    Index("ix_opportunities_expected_close_date", "expected_close_date"),
)

# Append-only (a trigger refuses UPDATE and DELETE): one row per entry into a stage.
stage_history = Table(
    "stage_history",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column(
        "opportunity_id",
        UUID(as_uuid=True),
        ForeignKey(opportunities.c.id, ondelete="CASCADE"),
        nullable=False,
    ),
    Column("stage", Text, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("by", Text, nullable=False, server_default=""),
    Column("approved_by", Text, nullable=False, server_default=""),
    Column("override", Boolean, nullable=False, server_default="false"),
    Column("reason", Text, nullable=False, server_default=""),
    Column("approval_id", UUID(as_uuid=True), nullable=True),
    Index("ix_stage_history_opportunity_id_at", "opportunity_id", "at"),
)

# Append-only too: one row per entry into a sub-state (empty sub-state: none).
sub_state_history = Table(
    "sub_state_history",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("opportunity_id", UUID(as_uuid=True), ForeignKey(opportunities.c.id, ondelete="CASCADE"), nullable=False),
    Column("stage", Text, nullable=False),
    Column("sub_state", Text, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("by", Text, nullable=False, server_default=""),
    Index("ix_sub_state_history_opportunity_id_at", "opportunity_id", "at"),
)

# Contacts, files and confirmations recorded for an opportunity (the evidence gates count).
evidence = Table(
    "evidence",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("opportunity_id", UUID(as_uuid=True), ForeignKey(opportunities.c.id, ondelete="CASCADE"), nullable=False),
    Column("kind", Text, nullable=False),
    Column("stage", Text, nullable=False),
    Column("action", Text, nullable=False, server_default=""),
    Column("channel", Text, nullable=False, server_default=""),
    Column("summary", Text, nullable=False, server_default=""),
    Column("confirmed_by", Text, nullable=False, server_default=""),
    Column("media_type", Text, nullable=False, server_default=""),
    Column("sha256", Text, nullable=False, server_default=""),
    Column("size", BigInteger, nullable=False, server_default="0"),
    Column("content", LargeBinary, nullable=True),
    Column("by", Text, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Index("ix_evidence_opportunity_id_at", "opportunity_id", "at"),
)

approvals = Table(
    "approvals",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("opportunity_id", UUID(as_uuid=True), ForeignKey(opportunities.c.id, ondelete="CASCADE"), nullable=False),
    Column("kind", Text, nullable=False),
    Column("from_stage", Text, nullable=False),
    Column("to_stage", Text, nullable=False),
    Column("reason", Text, nullable=False, server_default=""),
    Column("requested_by", Text, nullable=False),
    Column("approver_role", Text, nullable=False),
    Column("team_id", Text, nullable=False, server_default=""),
    Column("opportunity_version", Integer, nullable=False),
    Column("status", Text, nullable=False, server_default="pending"),
    Column("decided_by", Text, nullable=False, server_default=""),
    Column("decision_reason", Text, nullable=False, server_default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("decided_at", DateTime(timezone=True), nullable=True),
    # One pending request per opportunity at a time.
    Index(
        "uq_approvals_pending_opportunity",
        "opportunity_id",
        unique=True,
        postgresql_where=text("status = 'pending'"),
    ),
    Index("ix_approvals_status_created_at", "status", "created_at"),
)

# What this service asked the notification service (through events) to tell about an opportunity.
notifications = Table(
    "notifications",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("opportunity_id", UUID(as_uuid=True), ForeignKey(opportunities.c.id, ondelete="CASCADE"), nullable=False),
    Column("kind", Text, nullable=False),
    Column("recipient_id", Text, nullable=False, server_default=""),
    Column("detail", Text, nullable=False, server_default=""),
    Column("at", DateTime(timezone=True), nullable=False),
    Index("ix_notifications_opportunity_id_at", "opportunity_id", "at"),
)

# Idempotency keys of CreateOpportunity: a key belongs to its caller and to the body it was first sent with.
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("scope", Text, nullable=False),
    Column("key", Text, nullable=False),
    Column("request_sha256", Text, nullable=False),
    Column("opportunity_id", UUID(as_uuid=True), ForeignKey(opportunities.c.id, ondelete="CASCADE"), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("scope", "key", name="pk_idempotency_keys"),
)
