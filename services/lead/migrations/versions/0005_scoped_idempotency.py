"""scoped idempotency: keys belong to a caller and are bound to the request body

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 23:00:00

An Idempotency-Key was unique across the whole service: rep B repeating rep A's key got A's lead, and a key
shaped like a webhook's (`webhook:<source>:<key>`) pre-empted the partner's own capture. A key is now stored
once per (scope, key) in one table, with the SHA-256 of the canonical request it answered: the scope is the
verified caller (or the scope the caller's trusted hop names), and the same key with another body is refused.
The old global unique constraints go; the old columns stay as a record of what the caller sent.

Existing keys are carried over: `webhook:<source>:<key>` keys to the scope `webhook:<source>` (what the
integration gateway now names), every other key to the scope `legacy`. Their request hash is unknown (''),
which accepts any body.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = "lead"

# (scope, key) of an old global key: webhook keys keep their source as the scope.
_SPLIT = """
    CASE WHEN {k} ~ '^webhook:[a-z0-9][a-z0-9_-]*:.' THEN 'webhook:' || split_part({k}, ':', 2) ELSE 'legacy' END,
    CASE WHEN {k} ~ '^webhook:[a-z0-9][a-z0-9_-]*:.' THEN substr({k}, length(split_part({k}, ':', 2)) + 10)
         ELSE {k} END
"""


def upgrade() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("request_hash", sa.Text(), nullable=False, server_default=""),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("lead_id", postgresql.UUID(as_uuid=False), nullable=True),
        sa.Column("quarantine_id", postgresql.UUID(as_uuid=False), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key", name=op.f("pk_idempotency_keys")),
        schema=S,
    )
    op.execute(
        f"""
        INSERT INTO {S}.idempotency_keys (scope, key, outcome, lead_id, created_at)
        SELECT {_SPLIT.format(k="idempotency_key")}, 'lead', id, captured_at
        FROM {S}.leads WHERE idempotency_key IS NOT NULL
        ON CONFLICT DO NOTHING
        """
    )
    op.execute(
        f"""
        INSERT INTO {S}.idempotency_keys (scope, key, outcome, lead_id, created_at)
        SELECT {_SPLIT.format(k="idempotency_key")}, 'touch', lead_id, at
        FROM {S}.lead_touches WHERE idempotency_key IS NOT NULL
        ON CONFLICT DO NOTHING
        """
    )
    op.execute(
        f"""
        INSERT INTO {S}.idempotency_keys (scope, key, outcome, lead_id, quarantine_id, created_at)
        SELECT {_SPLIT.format(k="idempotency_key")}, 'quarantine', released_lead_id, id, received_at
        FROM {S}.quarantine WHERE idempotency_key IS NOT NULL
        ON CONFLICT DO NOTHING
        """
    )
    op.drop_constraint("uq_leads_idempotency_key", "leads", schema=S, type_="unique")
    op.drop_constraint("uq_quarantine_idempotency_key", "quarantine", schema=S, type_="unique")


def downgrade() -> None:
    # Fails when two scopes now hold the same key: a global key cannot be restored without losing one.
    op.create_unique_constraint("uq_quarantine_idempotency_key", "quarantine", ["idempotency_key"], schema=S)
    op.create_unique_constraint("uq_leads_idempotency_key", "leads", ["idempotency_key"], schema=S)
    op.drop_table("idempotency_keys", schema=S)
