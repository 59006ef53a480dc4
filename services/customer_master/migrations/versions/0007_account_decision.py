"""account decision: the resolve lookup returns each key holder's company and name; place-only names get new keys

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07

A resolve no longer takes the customer holding an exact key on trust: the account decision (matching.score_pair)
confirms the pair first, so that a person's phone held by a customer of another company does not decide the
account. The decision needs the holder's company and contact name; they come with the lookup, in the same round
trip. And a name made only of places and generic words (宁波舟山港) now keeps its places as its core: the customers
stored before get the search keys of that core.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = "customer_master"
_BATCH = 5000

_SIGNATURE = "text[], text, text, text, text, text[], double precision, integer"


def _lookup(extra_columns: bool) -> str:
    """The resolve_lookup function of 0006, with the holder's company and name when extra_columns."""
    returned = ", company text, name text" if extra_columns else ""
    holder = ", c.company, c.name" if extra_columns else ""
    pooled = ", NULL::text, NULL::text" if extra_columns else ""
    return f"""
CREATE FUNCTION {S}.resolve_lookup(
    p_locks text[], p_phone text, p_email text, p_company text, p_credit_code text,
    p_grams text[], p_query_keys double precision, p_pool_size integer
) RETURNS TABLE (
    pooled boolean, id uuid, merged_into uuid, phone_e164 text, email_normalized text, company_normalized text,
    credit_code text, core text, place text{returned}
)
LANGUAGE plpgsql VOLATILE SET plan_cache_mode = force_custom_plan AS $$
DECLARE
    lock_name text;
BEGIN
    FOREACH lock_name IN ARRAY p_locks LOOP
        PERFORM pg_advisory_xact_lock(hashtextextended(lock_name, 0));
    END LOOP;
    RETURN QUERY
        SELECT false, c.id, c.merged_into, c.phone_e164, c.email_normalized, c.company_normalized, c.credit_code,
               NULL::text, NULL::text{holder}
        FROM {S}.customers c
        WHERE c.phone_e164 = p_phone OR c.email_normalized = p_email OR c.company_normalized = p_company
           OR c.credit_code = p_credit_code;
    IF NOT FOUND AND cardinality(p_grams) > 0 THEN
        RETURN QUERY
            SELECT true, p.customer_id, NULL::uuid, NULL::text, NULL::text, NULL::text, NULL::text, p.core,
                   p.place{pooled}
            FROM {S}.candidate_pool(p_grams, p_query_keys, p_pool_size) p;
    END IF;
END
$$
"""


def upgrade() -> None:
    op.execute(f"DROP FUNCTION {S}.resolve_lookup({_SIGNATURE})")
    op.execute(_lookup(extra_columns=True))
    _rekey_place_only_names()


def _rekey_place_only_names() -> None:
    """Customers whose core changed under the new normalisation get its keys (the others keep theirs)."""
    from customer_master.names import normalize_company_name

    bind = op.get_bind()
    rows = bind.execute(
        sa.text(
            f"SELECT c.id, c.company, min(g.core) AS core FROM {S}.customers c "
            f"LEFT JOIN {S}.customer_grams g ON g.customer_id = c.id "
            "WHERE c.company IS NOT NULL GROUP BY c.id, c.company"
        )
    ).all()
    changed = []
    batch: list[dict[str, object]] = []
    for row in rows:
        parsed = normalize_company_name(row.company)
        grams = parsed.grams
        if not grams or (row.core or "") == parsed.core:
            continue
        changed.append(row.id)
        core = next((g[1:] for g in grams if g.startswith("=")), "")
        place = next((g[1:] for g in grams if g.startswith("^")), "")
        batch.extend({"gram": g, "id": row.id, "weight": 1.0 / len(grams), "core": core, "place": place} for g in grams)
    for start in range(0, len(changed), _BATCH):
        bind.execute(
            sa.text(f"DELETE FROM {S}.customer_grams WHERE customer_id = ANY(:ids)"),
            {"ids": changed[start : start + _BATCH]},
        )
    for start in range(0, len(batch), _BATCH):
        bind.execute(
            sa.text(
                f"INSERT INTO {S}.customer_grams (gram, customer_id, weight, core, place) "
                "VALUES (:gram, :id, :weight, :core, :place)"
            ),
            batch[start : start + _BATCH],
        )


def downgrade() -> None:
    op.execute(f"DROP FUNCTION {S}.resolve_lookup({_SIGNATURE})")
    op.execute(_lookup(extra_columns=False))
