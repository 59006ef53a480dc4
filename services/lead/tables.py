"""The lead service's tables, all in the `lead` schema."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, DateTime, ForeignKey, Identity, Index, Integer, Table, Text
from sqlalchemy.dialects.postgresql import JSONB, UUID

from crm_common.db import service_metadata

SCHEMA = "lead"
metadata = service_metadata(SCHEMA)

teams = Table(
    "teams",
    metadata,
    Column("id", UUID(as_uuid=False), primary_key=True),
    Column("name", Text, nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

reps = Table(
    "reps",
    metadata,
    Column("id", UUID(as_uuid=False), primary_key=True),
    Column("name", Text, nullable=False),
    Column("email", Text, nullable=False, server_default=""),
    Column("team_id", UUID(as_uuid=False), ForeignKey(f"{SCHEMA}.teams.id"), nullable=False, index=True),
    Column("active", Boolean, nullable=False, server_default="true"),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

routing_rules = Table(
    "routing_rules",
    metadata,
    Column("id", UUID(as_uuid=False), primary_key=True),
    Column("name", Text, nullable=False, unique=True),
    Column("priority", Integer, nullable=False),
    Column("conditions", JSONB, nullable=False),
    Column("team_id", UUID(as_uuid=False), ForeignKey(f"{SCHEMA}.teams.id"), nullable=False),
    Column("strategy", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# Round-robin position per rule; its row lock makes assignment exclusive across replicas.
rr_cursors = Table(
    "rr_cursors",
    metadata,
    Column("rule_id", UUID(as_uuid=False), primary_key=True),
    Column("last_rep_id", UUID(as_uuid=False)),
)

leads = Table(
    "leads",
    metadata,
    Column("id", UUID(as_uuid=False), primary_key=True),
    Column("idempotency_key", Text, unique=True),
    Column("name", Text, nullable=False, server_default=""),
    Column("phone_e164", Text, nullable=False, server_default=""),
    Column("email", Text, nullable=False, server_default=""),
    Column("company", Text, nullable=False, server_default=""),
    Column("province", Text, nullable=False, server_default=""),
    Column("city", Text, nullable=False, server_default=""),
    Column("industry", Text, nullable=False, server_default=""),
    Column("product_interest", Text, nullable=False, server_default=""),
    Column("notes", Text, nullable=False, server_default=""),
    Column("channel", Text, nullable=False),
    Column("utm_source", Text, nullable=False, server_default=""),
    Column("utm_medium", Text, nullable=False, server_default=""),
    Column("utm_campaign", Text, nullable=False, server_default=""),
    Column("campaign_id", Text, nullable=False, server_default=""),
    Column("referrer", Text, nullable=False, server_default=""),
    Column("status", Text, nullable=False),
    Column("customer_id", Text),
    Column("assignee_id", UUID(as_uuid=False)),
    Column("team_id", UUID(as_uuid=False)),
    Column("rule_id", UUID(as_uuid=False)),
    Column("traceparent", Text, nullable=False, server_default=""),
    Column("trace_id", Text, nullable=False, server_default=""),
    Column("captured_at", DateTime(timezone=True), nullable=False),
    Column("assigned_at", DateTime(timezone=True)),
    Column("claimed_at", DateTime(timezone=True)),
    Column("first_contact_at", DateTime(timezone=True)),
    Index("ix_leads_pending_customer", "captured_at", postgresql_where="customer_id IS NULL"),
    Index("ix_leads_unassigned", "captured_at", postgresql_where="assignee_id IS NULL"),
)

timeline = Table(
    "lead_timeline",
    metadata,
    Column("seq", BigInteger, Identity(), primary_key=True),
    Column("lead_id", UUID(as_uuid=False), ForeignKey(f"{SCHEMA}.leads.id"), nullable=False, index=True),
    Column("step", Text, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("detail", Text, nullable=False, server_default=""),
)

contacts = Table(
    "contacts",
    metadata,
    Column("id", UUID(as_uuid=False), primary_key=True),
    Column("lead_id", UUID(as_uuid=False), ForeignKey(f"{SCHEMA}.leads.id"), nullable=False, index=True),
    Column("rep_id", UUID(as_uuid=False), nullable=False),
    Column("channel", Text, nullable=False),
    Column("summary", Text, nullable=False, server_default=""),
    Column("at", DateTime(timezone=True), nullable=False),
)
