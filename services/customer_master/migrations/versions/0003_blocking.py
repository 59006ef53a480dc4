"""Blocking keys for the candidate search: character pairs, trade and place keys, the whole core, weighted.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "customer_master"
# Rows recomputed per INSERT while the keys of existing customers are rebuilt.
_BATCH = 5000


def upgrade() -> None:
    op.add_column(
        "customer_grams", sa.Column("weight", sa.Float(), nullable=False, server_default=sa.text("0")), schema=SCHEMA
    )
    op.add_column("customer_grams", sa.Column("core", sa.Text(), nullable=False, server_default=""), schema=SCHEMA)
    op.add_column("customer_grams", sa.Column("place", sa.Text(), nullable=False, server_default=""), schema=SCHEMA)
    # The search skips keys PostgreSQL's statistics list as common; a longer list names the common pairs of trades.
    op.execute(f"ALTER TABLE {SCHEMA}.customer_grams ALTER COLUMN gram SET STATISTICS 1000")
    _rebuild_keys()
    op.create_index(
        "ix_customer_grams_gram_weight",
        "customer_grams",
        ["gram"],
        schema=SCHEMA,
        postgresql_include=["customer_id", "weight", "core", "place"],
    )


def _rebuild_keys() -> None:
    """Existing customers get the new keys, computed by the same normalisation new ones use."""
    from customer_master.names import normalize_company_name

    bind = op.get_bind()
    bind.execute(sa.text(f"DELETE FROM {SCHEMA}.customer_grams"))
    rows = bind.execute(sa.text(f"SELECT id, company FROM {SCHEMA}.customers WHERE company IS NOT NULL")).all()
    batch: list[dict[str, object]] = []
    for row in rows:
        grams = normalize_company_name(row.company).grams
        core = next((g[1:] for g in grams if g.startswith("=")), "")
        place = next((g[1:] for g in grams if g.startswith("^")), "")
        batch.extend(
            {"gram": g, "id": row.id, "weight": 1.0 / len(grams), "core": core, "place": place} for g in grams
        )
        if len(batch) >= _BATCH:
            _insert(bind, batch)
            batch = []
    _insert(bind, batch)


def _insert(bind: sa.engine.Connection, batch: list[dict[str, object]]) -> None:
    if batch:
        bind.execute(
            sa.text(
                f"INSERT INTO {SCHEMA}.customer_grams (gram, customer_id, weight, core, place) "
                "VALUES (:gram, :id, :weight, :core, :place)"
            ),
            batch,
        )


def downgrade() -> None:
    op.drop_index("ix_customer_grams_gram_weight", "customer_grams", schema=SCHEMA)
    op.execute(f"ALTER TABLE {SCHEMA}.customer_grams ALTER COLUMN gram SET STATISTICS -1")
    for column in ("place", "core", "weight"):
        op.drop_column("customer_grams", column, schema=SCHEMA)
