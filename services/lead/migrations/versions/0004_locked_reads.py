"""locked reads: take the capture's advisory locks and read what they guard in one round trip

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 18:10:00

A capture locks the lead's phone/email (duplicate check) and later its routing teams (rotation, capacity), and
each time must read only after the lock is held, so that it sees what a concurrent capture committed. That
was two round trips each: the lock, then the read in a statement of its own. A VOLATILE function takes a fresh
snapshot for every statement it runs (READ COMMITTED), so the lock and the read become one call. The queries
are in lead/sql/capture_context_v1.sql and routing_reps_v1.sql, called by the capture and routing repositories.
"""

from collections.abc import Sequence

from alembic import op

from lead.sql import function_sql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = "lead"

# The functions' SQL is kept in versioned files (lead/sql), which the repository's callers name too.
CAPTURE_CONTEXT = function_sql("capture_context_v1.sql")
ROUTING_REPS = function_sql("routing_reps_v1.sql")


def upgrade() -> None:
    op.execute(CAPTURE_CONTEXT)
    op.execute(ROUTING_REPS)


def downgrade() -> None:
    op.execute(f"DROP FUNCTION {S}.routing_reps(text[], uuid[], uuid)")
    op.execute(f"DROP FUNCTION {S}.capture_context(text[], text, text, text, timestamptz, text)")
