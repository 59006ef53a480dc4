"""resolve lookup: take a resolve's advisory locks and look its keys up (or its candidate pool) in one round trip

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24

A resolve locks its match keys, then must read only after the locks are held, so that it sees the customer a
concurrent resolve sharing a key committed: that was a statement of its own for the locks, one for the exact keys
and, when none matched, one for the candidate pool. A VOLATILE function takes a fresh snapshot for every statement
it runs (READ COMMITTED), so the three become one call. The candidate pool is a function of its own, which the
lookup and customer_master.repository.candidate_pool both call: one definition of the blocked search's pool.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = "customer_master"

# The p_size customers holding most of these keys, by containment: the share of the query's p_query_keys keys a
# customer holds plus the share of its own keys (their weights summed) the query holds. Every key row of a customer
# carries the same core and place; "C" spares the locale-aware comparisons. SQL and STABLE, so that a caller's
# query inlines it and plans it as its own.
CANDIDATE_POOL = f"""
CREATE FUNCTION {S}.candidate_pool(p_grams text[], p_query_keys double precision, p_size integer)
RETURNS TABLE (customer_id uuid, core text, place text)
LANGUAGE sql STABLE AS $$
    SELECT g.customer_id, min(g.core COLLATE "C"), min(g.place COLLATE "C")
    FROM {S}.customer_grams g
    WHERE g.gram = ANY(p_grams)
    GROUP BY g.customer_id
    ORDER BY sum(g.weight) + count(*) / p_query_keys DESC
    LIMIT p_size
$$
"""

# The locks in the order given (callers sort them, so that resolves never deadlock), then every customer holding
# one of the keys (merged ones too: the caller follows them) and, only when none does and keys are given, the
# candidate pool of those keys. pooled tells the two kinds of row apart.
RESOLVE_LOOKUP = f"""
CREATE FUNCTION {S}.resolve_lookup(
    p_locks text[], p_phone text, p_email text, p_company text, p_credit_code text,
    p_grams text[], p_query_keys double precision, p_pool_size integer
) RETURNS TABLE (
    pooled boolean, id uuid, merged_into uuid, phone_e164 text, email_normalized text, company_normalized text,
    credit_code text, core text, place text
)
-- Planned for the keys at hand on every call: a generic plan of the pool query (keys unknown) cost ~2 ms a call
-- instead of ~0.25 ms.
LANGUAGE plpgsql VOLATILE SET plan_cache_mode = force_custom_plan AS $$
DECLARE
    lock_name text;
BEGIN
    FOREACH lock_name IN ARRAY p_locks LOOP
        PERFORM pg_advisory_xact_lock(hashtextextended(lock_name, 0));
    END LOOP;
    RETURN QUERY
        SELECT false, c.id, c.merged_into, c.phone_e164, c.email_normalized, c.company_normalized, c.credit_code,
               NULL::text, NULL::text
        FROM {S}.customers c
        WHERE c.phone_e164 = p_phone OR c.email_normalized = p_email OR c.company_normalized = p_company
           OR c.credit_code = p_credit_code;
    IF NOT FOUND AND cardinality(p_grams) > 0 THEN
        RETURN QUERY
            SELECT true, p.customer_id, NULL::uuid, NULL::text, NULL::text, NULL::text, NULL::text, p.core, p.place
            FROM {S}.candidate_pool(p_grams, p_query_keys, p_pool_size) p;
    END IF;
END
$$
"""


def upgrade() -> None:
    op.execute(CANDIDATE_POOL)
    op.execute(RESOLVE_LOOKUP)


def downgrade() -> None:
    op.execute(f"DROP FUNCTION {S}.resolve_lookup(text[], text, text, text, text, text[], double precision, integer)")
    op.execute(f"DROP FUNCTION {S}.candidate_pool(text[], double precision, integer)")
