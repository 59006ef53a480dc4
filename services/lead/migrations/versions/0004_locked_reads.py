"""locked reads: take the capture's advisory locks and read what they guard in one round trip

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 18:10:00

A capture locks the lead's phone/email (duplicate check) and later its routing teams (rotation, capacity), and
each time must read only after the lock is held, so that it sees what a concurrent capture committed. That
was two round trips each: the lock, then the read in a statement of its own. A VOLATILE function takes a fresh
snapshot for every statement it runs (READ COMMITTED), so the lock and the read become one call. The queries
are those of lead.repository (capture_context, routing_reps); change them together.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = "lead"

# The earliest lead with this phone or email from this channel since a time (one query per shape, so that each
# keeps its index), the live rule version, and the account owner of a customer.
CAPTURE_CONTEXT = f"""
CREATE FUNCTION {S}.capture_context(
    p_keys text[], p_phone text, p_email text, p_channel text, p_since timestamptz, p_customer_id text
) RETURNS TABLE (duplicate_id uuid, version integer, owner_id uuid)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended(k, 0)) FROM unnest(p_keys) WITH ORDINALITY AS t(k, n) ORDER BY n;
    IF p_phone <> '' AND p_email <> '' THEN
        duplicate_id := (SELECT l.id FROM {S}.leads l
            WHERE (l.phone_e164 = p_phone OR l.email = p_email) AND l.channel = p_channel AND l.captured_at >= p_since
            ORDER BY l.captured_at LIMIT 1);
    ELSIF p_phone <> '' THEN
        duplicate_id := (SELECT l.id FROM {S}.leads l
            WHERE l.phone_e164 = p_phone AND l.channel = p_channel AND l.captured_at >= p_since
            ORDER BY l.captured_at LIMIT 1);
    ELSIF p_email <> '' THEN
        duplicate_id := (SELECT l.id FROM {S}.leads l
            WHERE l.email = p_email AND l.channel = p_channel AND l.captured_at >= p_since
            ORDER BY l.captured_at LIMIT 1);
    END IF;
    version := (SELECT coalesce(max(v.version), 0) FROM {S}.rule_versions v);
    IF p_customer_id <> '' THEN
        owner_id := (SELECT l.assignee_id FROM {S}.leads l
            WHERE l.customer_id = p_customer_id AND l.assignee_id IS NOT NULL
            ORDER BY l.assigned_at DESC LIMIT 1);
    END IF;
    RETURN NEXT;
END
$$
"""

# Reps of the teams (and the account owner) with what routing weighs: load, rotation count, team calendar.
ROUTING_REPS = f"""
CREATE FUNCTION {S}.routing_reps(p_keys text[], p_team_ids uuid[], p_owner_id uuid)
RETURNS TABLE (
    id uuid, team_id uuid, active boolean, on_leave boolean, leave_until timestamptz, capacity integer,
    weight integer, skills jsonb, open_leads integer, served bigint, team_manager_id text, team_calendar jsonb
)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended(k, 0)) FROM unnest(p_keys) WITH ORDINALITY AS t(k, n) ORDER BY n;
    RETURN QUERY
        SELECT r.id, r.team_id, r.active, r.on_leave, r.leave_until, r.capacity, r.weight, r.skills,
               coalesce(o.open_leads, 0), c.served, t.manager_id, t.calendar
        FROM {S}.reps r
        JOIN {S}.teams t ON t.id = r.team_id
        LEFT JOIN {S}.rep_open_leads o ON o.rep_id = r.id
        LEFT JOIN {S}.rr_counts c ON c.rep_id = r.id AND c.team_id = r.team_id
        WHERE r.team_id = ANY(p_team_ids) OR r.id = p_owner_id
        ORDER BY r.id;
END
$$
"""


def upgrade() -> None:
    op.execute(CAPTURE_CONTEXT)
    op.execute(ROUTING_REPS)


def downgrade() -> None:
    op.execute(f"DROP FUNCTION {S}.routing_reps(text[], uuid[], uuid)")
    op.execute(f"DROP FUNCTION {S}.capture_context(text[], text, text, text, timestamptz, text)")
