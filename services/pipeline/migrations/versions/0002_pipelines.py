"""Pipelines as versioned data, the opportunity's stage state and stall clock, evidence, approvals, append-only history.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "pipeline"

# Version 1 of "default": the stages opportunities opened from contacted leads were always in.
DEFAULT_PIPELINE = {
    "name": "Default",
    "stages": [
        {"key": "qualification", "name": "Qualification", "probability": 0.1, "sub_states": [], "actions": []},
        {"key": "needs_analysis", "name": "Needs analysis", "probability": 0.25, "sub_states": [], "actions": []},
        {"key": "proposal", "name": "Proposal", "probability": 0.5, "sub_states": [], "actions": []},
        {"key": "negotiation", "name": "Negotiation", "probability": 0.75, "sub_states": [], "actions": []},
        {"key": "won", "name": "Won", "probability": 1.0, "sub_states": [], "actions": [], "outcome": "won"},
        {"key": "lost", "name": "Lost", "probability": 0.0, "sub_states": [], "actions": [], "outcome": "lost"},
    ],
    "skip_rules": [],
    "block_reasons": [],
}

APPEND_ONLY = """
CREATE OR REPLACE FUNCTION pipeline.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'pipeline.% is append-only', TG_TABLE_NAME;
END $$;
"""


def _opp_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["opportunity_id"],
        [f"{SCHEMA}.opportunities.id"],
        name=f"fk_{table}_opportunity_id_opportunities",
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "pipelines",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("definition", JSONB(), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False, server_default=""),
        sa.PrimaryKeyConstraint("key", "version", name="pk_pipelines"),
        schema=SCHEMA,
    )
    op.bulk_insert(
        sa.table(
            "pipelines",
            sa.column("key"),
            sa.column("version"),
            sa.column("definition", JSONB()),
            sa.column("created_by"),
            sa.column("created_at"),
            sa.column("reason"),
            schema=SCHEMA,
        ),
        [
            {
                "key": "default",
                "version": 1,
                "definition": DEFAULT_PIPELINE,
                "created_by": "migration 0002",
                "created_at": datetime(2026, 12, 7, tzinfo=UTC),
                "reason": "the stages opportunities opened from contacted leads were in",
            }
        ],
    )
    op.alter_column("opportunities", "lead_id", nullable=True, schema=SCHEMA)
    columns = [
        sa.Column("pipeline_key", sa.Text(), nullable=False, server_default="default"),
        sa.Column("pipeline_version", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("name", sa.Text(), nullable=False, server_default=""),
        sa.Column("amount", sa.Numeric(18, 2), nullable=True),
        sa.Column("currency", sa.Text(), nullable=False, server_default=""),
        sa.Column("expected_close_date", sa.Date(), nullable=True),
        sa.Column("status", sa.Text(), nullable=False, server_default="open"),
        sa.Column("team_id", sa.Text(), nullable=False, server_default=""),
        sa.Column("sub_state", sa.Text(), nullable=False, server_default=""),
        sa.Column("stage_entered_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()")),
        sa.Column("sub_state_entered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("block_reason", sa.Text(), nullable=False, server_default=""),
        sa.Column("lost_reason", sa.Text(), nullable=False, server_default=""),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_step_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stall_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stall_kind", sa.Text(), nullable=False, server_default=""),
        sa.Column("stall_level", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("stalled", sa.Boolean(), nullable=False, server_default="false"),
    ]
    for column in columns:
        op.add_column("opportunities", column, schema=SCHEMA)
    op.execute(f"UPDATE {SCHEMA}.opportunities SET stage_entered_at = opened_at")
    op.create_index(
        "ix_opportunities_stall_due_at",
        "opportunities",
        ["stall_due_at"],
        schema=SCHEMA,
        postgresql_where=sa.text("stall_due_at IS NOT NULL"),
    )
    op.create_index("ix_opportunities_owner_id", "opportunities", ["owner_id"], schema=SCHEMA)
    op.create_index(
        "ix_opportunities_customer_id_won",
        "opportunities",
        ["customer_id"],
        schema=SCHEMA,
        postgresql_where=sa.text("status = 'won'"),
    )
    op.create_index("ix_opportunities_expected_close_date", "opportunities", ["expected_close_date"], schema=SCHEMA)
    for column in (
        sa.Column("by", sa.Text(), nullable=False, server_default=""),
        sa.Column("approved_by", sa.Text(), nullable=False, server_default=""),
        sa.Column("override", sa.Boolean(), nullable=False, server_default="false"),
        sa.Column("reason", sa.Text(), nullable=False, server_default=""),
        sa.Column("approval_id", UUID(as_uuid=True), nullable=True),
    ):
        op.add_column("stage_history", column, schema=SCHEMA)
    op.create_table(
        "sub_state_history",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("opportunity_id", UUID(as_uuid=True), nullable=False),
        sa.Column("stage", sa.Text(), nullable=False),
        sa.Column("sub_state", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by", sa.Text(), nullable=False, server_default=""),
        sa.PrimaryKeyConstraint("id", name="pk_sub_state_history"),
        _opp_fk("sub_state_history"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_sub_state_history_opportunity_id_at", "sub_state_history", ["opportunity_id", "at"], schema=SCHEMA
    )
    op.create_table(
        "evidence",
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("opportunity_id", UUID(as_uuid=True), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("stage", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False, server_default=""),
        sa.Column("channel", sa.Text(), nullable=False, server_default=""),
        sa.Column("summary", sa.Text(), nullable=False, server_default=""),
        sa.Column("confirmed_by", sa.Text(), nullable=False, server_default=""),
        sa.Column("media_type", sa.Text(), nullable=False, server_default=""),
        sa.Column("sha256", sa.Text(), nullable=False, server_default=""),
        sa.Column("size", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("content", sa.LargeBinary(), nullable=True),
        sa.Column("by", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_evidence"),
        _opp_fk("evidence"),
        schema=SCHEMA,
    )
    op.create_index("ix_evidence_opportunity_id_at", "evidence", ["opportunity_id", "at"], schema=SCHEMA)
    op.create_table(
        "approvals",
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("opportunity_id", UUID(as_uuid=True), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("from_stage", sa.Text(), nullable=False),
        sa.Column("to_stage", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False, server_default=""),
        sa.Column("requested_by", sa.Text(), nullable=False),
        sa.Column("approver_role", sa.Text(), nullable=False),
        sa.Column("team_id", sa.Text(), nullable=False, server_default=""),
        sa.Column("opportunity_version", sa.Integer(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False, server_default="pending"),
        sa.Column("decided_by", sa.Text(), nullable=False, server_default=""),
        sa.Column("decision_reason", sa.Text(), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_approvals"),
        _opp_fk("approvals"),
        schema=SCHEMA,
    )
    op.create_index(
        "uq_approvals_pending_opportunity",
        "approvals",
        ["opportunity_id"],
        unique=True,
        schema=SCHEMA,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index("ix_approvals_status_created_at", "approvals", ["status", "created_at"], schema=SCHEMA)
    op.create_table(
        "notifications",
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("opportunity_id", UUID(as_uuid=True), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("recipient_id", sa.Text(), nullable=False, server_default=""),
        sa.Column("detail", sa.Text(), nullable=False, server_default=""),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_notifications"),
        _opp_fk("notifications"),
        schema=SCHEMA,
    )
    op.create_index("ix_notifications_opportunity_id_at", "notifications", ["opportunity_id", "at"], schema=SCHEMA)
    op.execute(APPEND_ONLY)
    for table in ("stage_history", "sub_state_history"):
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {SCHEMA}.{table} "
            "FOR EACH ROW EXECUTE FUNCTION pipeline.refuse_change()"
        )


def downgrade() -> None:
    for table in ("stage_history", "sub_state_history"):
        op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {SCHEMA}.{table}")
    op.execute("DROP FUNCTION IF EXISTS pipeline.refuse_change()")
    for table in ("notifications", "approvals", "evidence", "sub_state_history", "pipelines"):
        op.drop_table(table, schema=SCHEMA)
    for column in ("approval_id", "reason", "override", "approved_by", "by"):
        op.drop_column("stage_history", column, schema=SCHEMA)
    op.drop_index("ix_opportunities_expected_close_date", "opportunities", schema=SCHEMA)
    op.drop_index("ix_opportunities_customer_id_won", "opportunities", schema=SCHEMA)
    op.drop_index("ix_opportunities_owner_id", "opportunities", schema=SCHEMA)
    op.drop_index("ix_opportunities_stall_due_at", "opportunities", schema=SCHEMA)
    for column in (
        "stalled", "stall_level", "stall_kind", "stall_due_at", "next_step_at", "closed_at", "lost_reason",
        "block_reason", "version", "sub_state_entered_at", "stage_entered_at", "sub_state", "team_id", "status",
        "expected_close_date", "currency", "amount", "name", "pipeline_version", "pipeline_key",
    ):
        op.drop_column("opportunities", column, schema=SCHEMA)
    op.alter_column("opportunities", "lead_id", nullable=False, schema=SCHEMA)
