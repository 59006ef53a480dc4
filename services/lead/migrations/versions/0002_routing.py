"""routing: rule versions, rep capacity and calendars, decisions, clocks, quarantine, touches, pool

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 13:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = "lead"
JSONB = postgresql.JSONB(astext_type=sa.Text())
TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("teams", sa.Column("manager_id", sa.Text(), server_default="", nullable=False), schema=S)
    op.add_column("teams", sa.Column("calendar", JSONB, nullable=True), schema=S)
    op.add_column("teams", sa.Column("territories", JSONB, server_default="[]", nullable=False), schema=S)

    op.add_column("reps", sa.Column("capacity", sa.Integer(), server_default="50", nullable=False), schema=S)
    op.add_column("reps", sa.Column("weight", sa.Integer(), server_default="1", nullable=False), schema=S)
    op.add_column("reps", sa.Column("skills", JSONB, server_default="[]", nullable=False), schema=S)
    op.add_column("reps", sa.Column("on_leave", sa.Boolean(), server_default="false", nullable=False), schema=S)
    op.add_column("reps", sa.Column("leave_until", TZ, nullable=True), schema=S)
    op.add_column("reps", sa.Column("holding_limit", sa.Integer(), server_default="20", nullable=False), schema=S)

    op.alter_column("routing_rules", "team_id", existing_type=sa.UUID(as_uuid=False), nullable=True, schema=S)
    op.add_column("routing_rules", sa.Column("to_pool", sa.Boolean(), server_default="false", nullable=False), schema=S)
    op.add_column("routing_rules", sa.Column("overflow_team_id", sa.UUID(as_uuid=False), nullable=True), schema=S)
    op.add_column("routing_rules", sa.Column("min_score", sa.Integer(), server_default="0", nullable=False), schema=S)
    op.add_column("routing_rules", sa.Column("max_score", sa.Integer(), server_default="0", nullable=False), schema=S)
    op.add_column("routing_rules", sa.Column("required_skills", JSONB, server_default="[]", nullable=False), schema=S)

    op.create_table(
        "rule_versions",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("rules", JSONB, nullable=False),
        sa.Column("published_at", TZ, nullable=False),
        sa.Column("published_by", sa.Text(), server_default="", nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_rule_versions")),
        schema=S,
    )
    op.create_table(
        "rr_counts",
        sa.Column("team_id", sa.UUID(as_uuid=False), nullable=False),
        sa.Column("rep_id", sa.UUID(as_uuid=False), nullable=False),
        sa.Column("served", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("team_id", "rep_id", name=op.f("pk_rr_counts")),
        schema=S,
    )

    for column in (
        sa.Column("customer_tier", sa.Text(), server_default="", nullable=False),
        sa.Column("score", sa.Integer(), server_default="0", nullable=False),
        sa.Column("score_parts", JSONB, server_default="{}", nullable=False),
        sa.Column("location_inferred", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("touches", sa.Integer(), server_default="0", nullable=False),
        sa.Column("converted_at", TZ, nullable=True),
        sa.Column("last_activity_at", TZ, nullable=True),
        sa.Column("pooled_at", TZ, nullable=True),
        sa.Column("clock_kind", sa.Text(), nullable=True),
        sa.Column("clock_due_at", TZ, nullable=True),
        sa.Column("claim_deadline_at", TZ, nullable=True),
        sa.Column("contact_deadline_at", TZ, nullable=True),
        sa.Column("pool_return_at", TZ, nullable=True),
        sa.Column("lapsed_rep_ids", JSONB, server_default="[]", nullable=False),
    ):
        op.add_column("leads", column, schema=S)
    op.create_index("ix_leads_clock", "leads", ["clock_due_at"], schema=S, postgresql_where="clock_due_at IS NOT NULL")
    op.create_index("ix_leads_open_by_rep", "leads", ["assignee_id"], schema=S, postgresql_where="converted_at IS NULL")
    op.create_index("ix_leads_phone_recent", "leads", ["phone_e164", "captured_at"], schema=S)
    op.create_index("ix_leads_email_recent", "leads", ["email", "captured_at"], schema=S)
    op.create_index("ix_leads_customer", "leads", ["customer_id"], schema=S)

    op.create_table(
        "routing_decisions",
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("lead_id", sa.UUID(as_uuid=False), nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.Column("trigger", sa.Text(), nullable=False),
        sa.Column("rule_id", sa.Text(), server_default="", nullable=False),
        sa.Column("rule_name", sa.Text(), server_default="", nullable=False),
        sa.Column("rule_version", sa.Integer(), server_default="0", nullable=False),
        sa.Column("strategy", sa.Text(), server_default="", nullable=False),
        sa.Column("team_id", sa.Text(), server_default="", nullable=False),
        sa.Column("chosen_rep_id", sa.Text(), server_default="", nullable=False),
        sa.Column("to_pool", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("eligible", JSONB, nullable=False),
        sa.Column("ineligible", JSONB, nullable=False),
        sa.Column("explanation", sa.Text(), server_default="", nullable=False),
        sa.ForeignKeyConstraint(["lead_id"], ["lead.leads.id"], name=op.f("fk_routing_decisions_lead_id_leads")),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_routing_decisions")),
        schema=S,
    )
    op.create_index(op.f("ix_routing_decisions_lead_id"), "routing_decisions", ["lead_id"], schema=S)
    op.create_table(
        "quarantine",
        sa.Column("id", sa.UUID(as_uuid=False), nullable=False),
        sa.Column("input", JSONB, nullable=False),
        sa.Column("reasons", JSONB, nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("idempotency_key", sa.Text(), nullable=True),
        sa.Column("received_at", TZ, nullable=False),
        sa.Column("released_lead_id", sa.UUID(as_uuid=False), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quarantine")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_quarantine_idempotency_key")),
        schema=S,
    )
    op.create_table(
        "lead_touches",
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("lead_id", sa.UUID(as_uuid=False), nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("idempotency_key", sa.Text(), nullable=True),
        sa.Column("input", JSONB, nullable=False),
        sa.ForeignKeyConstraint(["lead_id"], ["lead.leads.id"], name=op.f("fk_lead_touches_lead_id_leads")),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_lead_touches")),
        schema=S,
    )
    op.create_index(op.f("ix_lead_touches_lead_id"), "lead_touches", ["lead_id"], schema=S)
    op.create_table(
        "pool_cooldowns",
        sa.Column("lead_id", sa.UUID(as_uuid=False), nullable=False),
        sa.Column("rep_id", sa.UUID(as_uuid=False), nullable=False),
        sa.Column("until", TZ, nullable=False),
        sa.PrimaryKeyConstraint("lead_id", "rep_id", name=op.f("pk_pool_cooldowns")),
        schema=S,
    )


def downgrade() -> None:
    op.drop_table("pool_cooldowns", schema=S)
    op.drop_index(op.f("ix_lead_touches_lead_id"), table_name="lead_touches", schema=S)
    op.drop_table("lead_touches", schema=S)
    op.drop_table("quarantine", schema=S)
    op.drop_index(op.f("ix_routing_decisions_lead_id"), table_name="routing_decisions", schema=S)
    op.drop_table("routing_decisions", schema=S)
    for index in ("ix_leads_customer", "ix_leads_email_recent", "ix_leads_phone_recent"):
        op.drop_index(index, table_name="leads", schema=S)
    op.drop_index("ix_leads_open_by_rep", table_name="leads", schema=S, postgresql_where="converted_at IS NULL")
    op.drop_index("ix_leads_clock", table_name="leads", schema=S, postgresql_where="clock_due_at IS NOT NULL")
    for name in (
        "customer_tier",
        "score",
        "score_parts",
        "location_inferred",
        "touches",
        "converted_at",
        "last_activity_at",
        "pooled_at",
        "clock_kind",
        "clock_due_at",
        "claim_deadline_at",
        "contact_deadline_at",
        "pool_return_at",
        "lapsed_rep_ids",
    ):
        op.drop_column("leads", name, schema=S)
    op.drop_table("rr_counts", schema=S)
    op.drop_table("rule_versions", schema=S)
    for name in ("required_skills", "max_score", "min_score", "overflow_team_id", "to_pool"):
        op.drop_column("routing_rules", name, schema=S)
    op.alter_column("routing_rules", "team_id", existing_type=sa.UUID(as_uuid=False), nullable=False, schema=S)
    for name in ("holding_limit", "leave_until", "on_leave", "skills", "weight", "capacity"):
        op.drop_column("reps", name, schema=S)
    for name in ("territories", "calendar", "manager_id"):
        op.drop_column("teams", name, schema=S)
