"""Matching and stewardship: credit codes, trigram candidates, reviews, reversible merges, history.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "customer_master"


def _fk(table: str, column: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{SCHEMA}.customers.id"], name=f"fk_{table}_{column}_customers", ondelete="CASCADE"
    )


def upgrade() -> None:
    # pg_trgm is a trusted extension (PostgreSQL 13+): the database owner may create it without superuser.
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public")
    op.add_column("customers", sa.Column("credit_code", sa.Text(), nullable=True), schema=SCHEMA)
    op.add_column("customers", sa.Column("company_latin", sa.Text(), nullable=True), schema=SCHEMA)
    op.add_column("customers", sa.Column("steward_id", sa.Text(), nullable=True), schema=SCHEMA)
    op.add_column("customers", sa.Column("first_cooperation_date", sa.Date(), nullable=True), schema=SCHEMA)
    op.add_column("customers", sa.Column("merged_into", UUID(as_uuid=True), nullable=True), schema=SCHEMA)
    op.create_index("ix_customers_credit_code", "customers", ["credit_code"], schema=SCHEMA)
    op.create_index("ix_customers_steward_id", "customers", ["steward_id"], schema=SCHEMA)
    # Latin names (and the pinyin of Chinese ones) are searched by trigrams; Chinese names by customer_grams.
    op.execute(
        f"CREATE INDEX ix_customers_company_latin_trgm ON {SCHEMA}.customers "
        "USING gin (company_latin public.gin_trgm_ops)"
    )
    op.create_table(
        "customer_grams",
        sa.Column("gram", sa.Text(), nullable=False),
        sa.Column("customer_id", UUID(as_uuid=True), nullable=False),
        sa.PrimaryKeyConstraint("gram", "customer_id", name="pk_customer_grams"),
        _fk("customer_grams", "customer_id"),
        schema=SCHEMA,
    )
    op.create_index("ix_customer_grams_customer_id", "customer_grams", ["customer_id"], schema=SCHEMA)
    _backfill_company_latin()
    op.create_table(
        "match_reviews",
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("customer_id", UUID(as_uuid=True), nullable=False),
        sa.Column("candidate_id", UUID(as_uuid=True), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("explanation", JSONB(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False, server_default="pending"),
        sa.Column("decided_by", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("id", name="pk_match_reviews"),
        _fk("match_reviews", "customer_id"),
        _fk("match_reviews", "candidate_id"),
        sa.UniqueConstraint("customer_id", "candidate_id", name="uq_match_reviews_customer_id_candidate_id"),
        schema=SCHEMA,
    )
    op.create_index("ix_match_reviews_status", "match_reviews", ["status", "created_at"], schema=SCHEMA)
    op.create_table(
        "merges",
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("survivor_id", UUID(as_uuid=True), nullable=False),
        sa.Column("merged_id", UUID(as_uuid=True), nullable=False),
        sa.Column("filled_fields", JSONB(), nullable=False),
        sa.Column("moved_sources", JSONB(), nullable=False),
        sa.Column("actor_id", sa.Text(), nullable=False, server_default=""),
        sa.Column("reason", sa.Text(), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("undone_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_merges"),
        _fk("merges", "survivor_id"),
        _fk("merges", "merged_id"),
        schema=SCHEMA,
    )
    op.create_table(
        "customer_changes",
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("customer_id", UUID(as_uuid=True), nullable=False),
        sa.Column("field", sa.Text(), nullable=False),
        sa.Column("old_value", sa.Text(), nullable=True),
        sa.Column("new_value", sa.Text(), nullable=True),
        sa.Column("actor_id", sa.Text(), nullable=False, server_default=""),
        sa.Column("actor_role", sa.Text(), nullable=False, server_default=""),
        sa.Column("reason", sa.Text(), nullable=False, server_default=""),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("id", name="pk_customer_changes"),
        _fk("customer_changes", "customer_id"),
        schema=SCHEMA,
    )
    op.create_index("ix_customer_changes_customer_id", "customer_changes", ["customer_id", "at"], schema=SCHEMA)
    op.create_table(
        "change_requests",
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("customer_id", UUID(as_uuid=True), nullable=False),
        sa.Column("field", sa.Text(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("actor_id", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False, server_default=""),
        sa.Column("status", sa.Text(), nullable=False, server_default="open"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("id", name="pk_change_requests"),
        _fk("change_requests", "customer_id"),
        schema=SCHEMA,
    )
    op.create_table(
        "match_settings",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("value", JSONB(), nullable=False),
        sa.Column("updated_by", sa.Text(), nullable=False, server_default=""),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("key", name="pk_match_settings"),
        schema=SCHEMA,
    )


def _backfill_company_latin() -> None:
    """Existing customers get their search keys, computed by the same normalisation new ones use."""
    from customer_master.names import normalize_company_name

    bind = op.get_bind()
    rows = bind.execute(sa.text(f"SELECT id, company FROM {SCHEMA}.customers WHERE company IS NOT NULL")).all()
    for row in rows:
        bind.execute(
            sa.text(f"UPDATE {SCHEMA}.customers SET company_latin = :latin WHERE id = :id"),
            {"latin": normalize_company_name(row.company).latin or None, "id": row.id},
        )
        for gram in normalize_company_name(row.company).grams:
            bind.execute(
                sa.text(f"INSERT INTO {SCHEMA}.customer_grams (gram, customer_id) VALUES (:gram, :id)"),
                {"gram": gram, "id": row.id},
            )


def downgrade() -> None:
    for table in ("match_settings", "change_requests", "customer_changes", "merges", "match_reviews", "customer_grams"):
        op.drop_table(table, schema=SCHEMA)
    op.execute(f"DROP INDEX IF EXISTS {SCHEMA}.ix_customers_company_latin_trgm")
    op.drop_index("ix_customers_steward_id", "customers", schema=SCHEMA)
    op.drop_index("ix_customers_credit_code", "customers", schema=SCHEMA)
    for column in (
        "merged_into",
        "first_cooperation_date",
        "steward_id",
        "company_latin",
        "credit_code",
    ):
        op.drop_column("customers", column, schema=SCHEMA)
