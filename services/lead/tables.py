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
    Column("manager_id", Text, nullable=False, server_default=""),
    Column("calendar", JSONB),
    Column("territories", JSONB, nullable=False, server_default="[]"),
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
    Column("capacity", Integer, nullable=False, server_default="50"),
    Column("weight", Integer, nullable=False, server_default="1"),
    Column("skills", JSONB, nullable=False, server_default="[]"),
    Column("on_leave", Boolean, nullable=False, server_default="false"),
    Column("leave_until", DateTime(timezone=True)),
    Column("holding_limit", Integer, nullable=False, server_default="20"),
)

routing_rules = Table(
    "routing_rules",
    metadata,
    Column("id", UUID(as_uuid=False), primary_key=True),
    Column("name", Text, nullable=False, unique=True),
    Column("priority", Integer, nullable=False),
    Column("conditions", JSONB, nullable=False),
    Column("team_id", UUID(as_uuid=False), ForeignKey(f"{SCHEMA}.teams.id")),
    Column("strategy", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("to_pool", Boolean, nullable=False, server_default="false"),
    Column("overflow_team_id", UUID(as_uuid=False)),
    Column("min_score", Integer, nullable=False, server_default="0"),
    Column("max_score", Integer, nullable=False, server_default="0"),
    Column("required_skills", JSONB, nullable=False, server_default="[]"),
)

# Every published rule set, kept whole: the live one is the highest version.
rule_versions = Table(
    "rule_versions",
    metadata,
    Column("version", Integer, primary_key=True),
    Column("rules", JSONB, nullable=False),
    Column("published_at", DateTime(timezone=True), nullable=False),
    Column("published_by", Text, nullable=False, server_default=""),
)

# Leads served per rep of a team (weighted round-robin); guarded by a per-team advisory lock.
rr_counts = Table(
    "rr_counts",
    metadata,
    Column("team_id", UUID(as_uuid=False), primary_key=True),
    Column("rep_id", UUID(as_uuid=False), primary_key=True),
    Column("served", BigInteger, nullable=False, server_default="0"),
)

# Open, unconverted leads per rep (what capacity counts), kept by a trigger on leads (migration 0003) so routing
# reads one row per rep instead of counting the rep's leads on every decision.
open_lead_counts = Table(
    "rep_open_leads",
    metadata,
    Column("rep_id", UUID(as_uuid=False), primary_key=True),
    Column("open_leads", Integer, nullable=False, server_default="0"),
)

leads = Table(
    "leads",
    metadata,
    Column("id", UUID(as_uuid=False), primary_key=True),
    # What the caller sent; the key itself is kept (scoped to the caller) in idempotency_keys.
    Column("idempotency_key", Text),
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
    Column("customer_tier", Text, nullable=False, server_default=""),
    Column("score", Integer, nullable=False, server_default="0"),
    Column("score_parts", JSONB, nullable=False, server_default="{}"),
    Column("location_inferred", Boolean, nullable=False, server_default="false"),
    Column("touches", Integer, nullable=False, server_default="0"),
    Column("converted_at", DateTime(timezone=True)),
    Column("last_activity_at", DateTime(timezone=True)),
    Column("pooled_at", DateTime(timezone=True)),
    # One clock per lead: what runs out next (claim, first_contact, pool_warning, pool_return) and when.
    Column("clock_kind", Text),
    Column("clock_due_at", DateTime(timezone=True)),
    Column("claim_deadline_at", DateTime(timezone=True)),
    Column("contact_deadline_at", DateTime(timezone=True)),
    Column("pool_return_at", DateTime(timezone=True)),
    # Reps whose claim window lapsed on this lead: re-routing skips them.
    Column("lapsed_rep_ids", JSONB, nullable=False, server_default="[]"),
    Index("ix_leads_pending_customer", "captured_at", postgresql_where="customer_id IS NULL"),
    Index("ix_leads_unassigned", "captured_at", postgresql_where="assignee_id IS NULL"),
    Index("ix_leads_clock", "clock_due_at", postgresql_where="clock_due_at IS NOT NULL"),
    Index("ix_leads_open_by_rep", "assignee_id", postgresql_where="converted_at IS NULL"),
    Index("ix_leads_phone_recent", "phone_e164", "captured_at"),
    Index("ix_leads_email_recent", "email", "captured_at"),
    Index("ix_leads_customer", "customer_id"),
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

routing_decisions = Table(
    "routing_decisions",
    metadata,
    Column("seq", BigInteger, Identity(), primary_key=True),
    Column("lead_id", UUID(as_uuid=False), ForeignKey(f"{SCHEMA}.leads.id"), nullable=False, index=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("trigger", Text, nullable=False),
    Column("rule_id", Text, nullable=False, server_default=""),
    Column("rule_name", Text, nullable=False, server_default=""),
    Column("rule_version", Integer, nullable=False, server_default="0"),
    Column("strategy", Text, nullable=False, server_default=""),
    Column("team_id", Text, nullable=False, server_default=""),
    Column("chosen_rep_id", Text, nullable=False, server_default=""),
    Column("to_pool", Boolean, nullable=False, server_default="false"),
    Column("eligible", JSONB, nullable=False),
    Column("ineligible", JSONB, nullable=False),
    Column("explanation", Text, nullable=False, server_default=""),
)

quarantine = Table(
    "quarantine",
    metadata,
    Column("id", UUID(as_uuid=False), primary_key=True),
    Column("input", JSONB, nullable=False),
    Column("reasons", JSONB, nullable=False),
    Column("status", Text, nullable=False),
    Column("idempotency_key", Text),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("released_lead_id", UUID(as_uuid=False)),
)

touches = Table(
    "lead_touches",
    metadata,
    Column("seq", BigInteger, Identity(), primary_key=True),
    Column("lead_id", UUID(as_uuid=False), ForeignKey(f"{SCHEMA}.leads.id"), nullable=False, index=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("channel", Text, nullable=False),
    Column("idempotency_key", Text),
    Column("input", JSONB, nullable=False),
)

# Every Idempotency-Key once per caller (scope), with the SHA-256 of the request it answered and what that was:
# a lead, a touch of one, or a quarantined submission (released_lead_id on the quarantine says if it became one).
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("scope", Text, primary_key=True),
    Column("key", Text, primary_key=True),
    Column("request_hash", Text, nullable=False, server_default=""),
    Column("outcome", Text, nullable=False),
    Column("lead_id", UUID(as_uuid=False)),
    Column("quarantine_id", UUID(as_uuid=False)),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# A rep whose lead went back to the pool may not re-claim it before `until`.
pool_cooldowns = Table(
    "pool_cooldowns",
    metadata,
    Column("lead_id", UUID(as_uuid=False), primary_key=True),
    Column("rep_id", UUID(as_uuid=False), primary_key=True),
    Column("until", DateTime(timezone=True), nullable=False),
)
