"""Projections of lead and pipeline events, cached report results and the export audit.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07
"""

from collections.abc import Sequence

from alembic import op

from crm_common.db import service_metadata
from reporting.projections.schema import PROJECTIONS, support_tables

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "reporting"
FOUR = ("lead_fact", "opportunity_fact", "stage_visit", "stage_action")


def _tables():
    # A metadata of its own: the migration creates what the schema module says, as of this revision.
    metadata = service_metadata(SCHEMA)
    return [PROJECTIONS[name](metadata) for name in FOUR] + list(support_tables(metadata))


def upgrade() -> None:
    for table in _tables():
        table.create(op.get_bind())


def downgrade() -> None:
    for table in reversed(_tables()):
        table.drop(op.get_bind())
