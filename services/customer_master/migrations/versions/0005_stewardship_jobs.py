"""Change-request decisions and bulk deduplication jobs.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "customer_master"


def _job_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["job_id"], [f"{SCHEMA}.dedup_jobs.id"], name=f"fk_{table}_job_id_dedup_jobs", ondelete="CASCADE"
    )


def upgrade() -> None:
    op.add_column(
        "customers",
        sa.Column("steward_needed", sa.Boolean(), nullable=False, server_default=sa.text("false")),
        schema=SCHEMA,
    )
    op.add_column("customer_changes", sa.Column("change_request_id", UUID(as_uuid=True), nullable=True), schema=SCHEMA)
    # Requests filed before this revision have no old_value: approving one whose field has a value is refused
    # (it may have changed since filing), which is the safe side; the owner rejects it and it is filed again.
    for column in ("old_value", "decided_by", "decided_role", "decision_reason"):
        op.add_column("change_requests", sa.Column(column, sa.Text(), nullable=True), schema=SCHEMA)
    op.add_column("change_requests", sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True), schema=SCHEMA)
    op.create_index("ix_change_requests_status", "change_requests", ["status", "created_at"], schema=SCHEMA)
    op.create_index("ix_change_requests_customer_id", "change_requests", ["customer_id", "created_at"], schema=SCHEMA)
    op.create_table(
        "dedup_jobs",
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False, server_default="queued"),
        sa.Column("send_to_review", sa.Boolean(), nullable=False, server_default=sa.text("false")),
        sa.Column("requested_by", sa.Text(), nullable=False, server_default=""),
        *(
            sa.Column(name, sa.BigInteger(), nullable=False, server_default=sa.text("0"))
            for name in (
                "records_total",
                "records_loaded",
                "candidate_pairs",
                "pairs_scored",
                "clusters_found",
                "reviews_queued",
            )
        ),
        sa.Column("error", sa.Text(), nullable=False, server_default=""),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("idempotency_key", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_dedup_jobs"),
        schema=SCHEMA,
    )
    op.create_index("ix_dedup_jobs_status", "dedup_jobs", ["status", "created_at"], schema=SCHEMA)
    op.create_index(
        "uq_dedup_jobs_idempotency_key",
        "dedup_jobs",
        ["idempotency_key"],
        unique=True,
        schema=SCHEMA,
        postgresql_where=sa.text("idempotency_key IS NOT NULL"),
    )
    op.create_table(
        "dedup_job_records",
        sa.Column("job_id", UUID(as_uuid=True), nullable=False),
        sa.Column("row", sa.Integer(), nullable=False),
        *(
            sa.Column(name, sa.Text(), nullable=False, server_default="")
            for name in ("ref", "company", "name", "phone", "email", "credit_code")
        ),
        sa.PrimaryKeyConstraint("job_id", "row", name="pk_dedup_job_records"),
        _job_fk("dedup_job_records"),
        schema=SCHEMA,
    )
    op.create_table(
        "dedup_clusters",
        sa.Column("job_id", UUID(as_uuid=True), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("decision", sa.Text(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("members", JSONB(), nullable=False),
        sa.Column("pairs", JSONB(), nullable=False),
        sa.PrimaryKeyConstraint("job_id", "number", name="pk_dedup_clusters"),
        _job_fk("dedup_clusters"),
        schema=SCHEMA,
    )


def downgrade() -> None:
    for table in ("dedup_clusters", "dedup_job_records", "dedup_jobs"):
        op.drop_table(table, schema=SCHEMA)
    op.drop_index("ix_change_requests_customer_id", "change_requests", schema=SCHEMA)
    op.drop_index("ix_change_requests_status", "change_requests", schema=SCHEMA)
    for column in ("decided_at", "decision_reason", "decided_role", "decided_by", "old_value"):
        op.drop_column("change_requests", column, schema=SCHEMA)
    op.drop_column("customer_changes", "change_request_id", schema=SCHEMA)
    op.drop_column("customers", "steward_needed", schema=SCHEMA)
