"""open lead counts: a per-rep counter kept by a trigger, so routing does not count a rep's leads every time

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 15:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from lead.sql import function_sql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = "lead"
# Open means what capacity counts (lead/sql/count_open_leads_v1.sql): held by a rep, not converted, not pooled.
IS_OPEN = "{row}.assignee_id IS NOT NULL AND {row}.converted_at IS NULL AND {row}.status IN ('assigned', 'claimed', 'contacted')"

FUNCTION = function_sql("count_open_leads_v1.sql")  # the trigger function, kept in a versioned file


def upgrade() -> None:
    op.create_table(
        "rep_open_leads",
        sa.Column("rep_id", sa.UUID(as_uuid=False), nullable=False),
        sa.Column("open_leads", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("rep_id", name=op.f("pk_rep_open_leads")),
        schema=S,
    )
    op.execute(FUNCTION)
    op.execute(
        f"CREATE TRIGGER leads_count_open AFTER INSERT OR DELETE OR UPDATE OF assignee_id, status, converted_at "
        f"ON {S}.leads FOR EACH ROW EXECUTE FUNCTION {S}.count_open_leads()"
    )
    # Existing leads: counted once, in the same transaction as the trigger's creation.
    op.execute(
        f"INSERT INTO {S}.rep_open_leads (rep_id, open_leads) SELECT assignee_id, count(*) FROM {S}.leads l "
        f"WHERE {IS_OPEN.format(row='l')} GROUP BY assignee_id"
    )


def downgrade() -> None:
    op.execute(f"DROP TRIGGER leads_count_open ON {S}.leads")
    op.execute(f"DROP FUNCTION {S}.count_open_leads()")
    op.drop_table("rep_open_leads", schema=S)
