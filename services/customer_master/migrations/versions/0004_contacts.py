"""Contacts as their own entity, and survivorship rules per field.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "customer_master"


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{SCHEMA}.{target}.id"], name=f"fk_{table}_{column}_{target}", ondelete="CASCADE"
    )


def _empty_json() -> sa.TextClause:
    return sa.text("'{}'::jsonb")


def upgrade() -> None:
    op.create_table(
        "contacts",
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("customer_id", UUID(as_uuid=True), nullable=False),
        sa.Column("name", sa.Text(), nullable=False, server_default=""),
        sa.Column("phone_e164", sa.Text(), nullable=True),
        sa.Column("email_normalized", sa.Text(), nullable=True),
        sa.Column("provenance", JSONB(), nullable=False, server_default=_empty_json()),
        sa.Column("rules_version", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("merged_into", UUID(as_uuid=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("id", name="pk_contacts"),
        _fk("contacts", "customer_id", "customers"),
        schema=SCHEMA,
    )
    op.create_index("ix_contacts_customer_id", "contacts", ["customer_id", "created_at"], schema=SCHEMA)
    op.create_index("ix_contacts_rules_version", "contacts", ["rules_version"], schema=SCHEMA)
    op.create_table(
        "contact_sources",
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("contact_id", UUID(as_uuid=True), nullable=False),
        sa.Column("customer_id", UUID(as_uuid=True), nullable=False),
        sa.Column("source_system", sa.Text(), nullable=False),
        sa.Column("source_ref", sa.Text(), nullable=False, server_default=""),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("phone_e164", sa.Text(), nullable=True),
        sa.Column("email_normalized", sa.Text(), nullable=True),
        sa.Column("match", JSONB(), nullable=False, server_default=_empty_json()),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("id", name="pk_contact_sources"),
        _fk("contact_sources", "contact_id", "contacts"),
        _fk("contact_sources", "customer_id", "customers"),
        schema=SCHEMA,
    )
    op.create_index("ix_contact_sources_contact_id", "contact_sources", ["contact_id", "observed_at"], schema=SCHEMA)
    op.create_index(
        "uq_contact_sources_customer_id_source_ref",
        "contact_sources",
        ["customer_id", "source_ref"],
        unique=True,
        schema=SCHEMA,
        postgresql_where=sa.text("source_ref <> ''"),
    )
    op.create_table(
        "contact_keys",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("contact_id", UUID(as_uuid=True), nullable=False),
        sa.PrimaryKeyConstraint("key", "contact_id", name="pk_contact_keys"),
        _fk("contact_keys", "contact_id", "contacts"),
        schema=SCHEMA,
    )
    op.create_index("ix_contact_keys_contact_id", "contact_keys", ["contact_id"], schema=SCHEMA)
    op.create_table(
        "contact_intake",
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("customer_id", UUID(as_uuid=True), nullable=False),
        sa.Column("source_ref", sa.Text(), nullable=False, server_default=""),
        sa.Column("name", sa.Text(), nullable=False, server_default=""),
        sa.Column("phone", sa.Text(), nullable=False, server_default=""),
        sa.Column("email", sa.Text(), nullable=False, server_default=""),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("error", sa.Text(), nullable=False, server_default=""),
        sa.PrimaryKeyConstraint("id", name="pk_contact_intake"),
        _fk("contact_intake", "customer_id", "customers"),
        schema=SCHEMA,
    )
    op.create_index("ix_contact_intake_received_at", "contact_intake", ["received_at"], schema=SCHEMA)
    op.create_table(
        "contact_merges",
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("survivor_id", UUID(as_uuid=True), nullable=False),
        sa.Column("merged_id", UUID(as_uuid=True), nullable=False),
        sa.Column("moved_sources", JSONB(), nullable=False),
        sa.Column("actor_id", sa.Text(), nullable=False, server_default=""),
        sa.Column("reason", sa.Text(), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("undone_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_contact_merges"),
        _fk("contact_merges", "survivor_id", "contacts"),
        _fk("contact_merges", "merged_id", "contacts"),
        schema=SCHEMA,
    )
    op.create_table(
        "survivorship_rules",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("rules", JSONB(), nullable=False),
        sa.Column("set_by", sa.Text(), nullable=False, server_default=""),
        sa.Column("reason", sa.Text(), nullable=False, server_default=""),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("version", name="pk_survivorship_rules"),
        schema=SCHEMA,
    )
    op.create_table(
        "account_golden",
        sa.Column("customer_id", UUID(as_uuid=True), nullable=False),
        sa.Column("rules_version", sa.Integer(), nullable=False),
        sa.Column("provenance", JSONB(), nullable=False, server_default=_empty_json()),
        sa.Column("rebuilt_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("customer_id", name="pk_account_golden"),
        _fk("account_golden", "customer_id", "customers"),
        schema=SCHEMA,
    )
    op.create_index("ix_account_golden_rules_version", "account_golden", ["rules_version"], schema=SCHEMA)


def downgrade() -> None:
    for table in (
        "account_golden",
        "survivorship_rules",
        "contact_merges",
        "contact_intake",
        "contact_keys",
        "contact_sources",
        "contacts",
    ):
        op.drop_table(table, schema=SCHEMA)
