"""The sub-state dwell projection.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07
"""

from collections.abc import Sequence

from alembic import op

from crm_common.db import service_metadata
from reporting.projections.schema import sub_state_dwell

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    sub_state_dwell(service_metadata("reporting")).create(op.get_bind())


def downgrade() -> None:
    sub_state_dwell(service_metadata("reporting")).drop(op.get_bind())
