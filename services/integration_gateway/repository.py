"""Every query of the integration_gateway schema."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import Row, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from crm_common.errors import FieldViolation
from integration_gateway.tables import CAPTURED, FAILED, REJECTED, RETRYABLE, webhook_receipts

r = webhook_receipts


async def insert_receipt(
    conn: AsyncConnection, *, source: str, idempotency_key: str | None, payload: dict[str, Any], status: str
) -> tuple[Row, bool]:
    """Store a webhook; with a key already seen from this source, the first receipt and False instead."""
    inserted = (
        await conn.execute(
            insert(r)
            .values(id=uuid.uuid4(), source=source, idempotency_key=idempotency_key, payload=payload, status=status)
            .on_conflict_do_nothing(index_elements=[r.c.source, r.c.idempotency_key])
            .returning(*r.c)
        )
    ).first()
    if inserted is not None:
        return inserted, True
    existing = (
        await conn.execute(select(r).where(r.c.source == source, r.c.idempotency_key == idempotency_key))
    ).one()
    return existing, False


async def get_receipt(conn: AsyncConnection, *, receipt_id: uuid.UUID) -> Row | None:
    """One receipt, or None."""
    return (await conn.execute(select(r).where(r.c.id == receipt_id))).first()


async def mark_captured(conn: AsyncConnection, *, receipt_id: uuid.UUID, lead_id: str) -> Row | None:
    """Record the captured lead; None when the receipt was already captured (by a racing call)."""
    return (
        await conn.execute(
            update(r)
            .where(r.c.id == receipt_id, r.c.status != CAPTURED)
            .values(
                status=CAPTURED, lead_id=lead_id, error="", violations=None,
                capture_attempts=r.c.capture_attempts + 1, updated_at=func.now(),
            )
            .returning(*r.c)
        )
    ).first()


async def mark_rejected(conn: AsyncConnection, *, receipt_id: uuid.UUID, violations: Sequence[FieldViolation], error: str) -> None:
    """The lead service refused the webhook's content; a captured receipt is left as it is."""
    await conn.execute(
        update(r)
        .where(r.c.id == receipt_id, r.c.status != CAPTURED)
        .values(
            status=REJECTED, error=error,
            violations=[{"field": v.field, "description": v.description} for v in violations],
            capture_attempts=r.c.capture_attempts + 1, updated_at=func.now(),
        )
    )


async def mark_failed(conn: AsyncConnection, *, receipt_id: uuid.UUID, error: str) -> None:
    """The lead service could not be reached; the retry job picks the receipt up later."""
    await conn.execute(
        update(r)
        .where(r.c.id == receipt_id, r.c.status != CAPTURED)
        .values(status=FAILED, error=error, capture_attempts=r.c.capture_attempts + 1, updated_at=func.now())
    )


def violations_of(receipt: Row) -> list[FieldViolation]:
    """The field violations stored with a rejected receipt."""
    return [FieldViolation(v["field"], v["description"]) for v in receipt.violations or []]


async def claim_stalled(conn: AsyncConnection, *, older_than: timedelta, limit: int) -> Sequence[Row]:
    """Receipts left received or failed for longer than `older_than`, leased to this caller.

    Touching updated_at is the lease: other replicas skip locked rows now and, after commit, see the
    receipt as fresh until `older_than` has passed again.
    """
    stalled = (
        select(r.c.id)
        .where(r.c.status.in_(RETRYABLE), r.c.updated_at <= func.now() - older_than)
        .order_by(r.c.updated_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    result = await conn.execute(update(r).where(r.c.id.in_(stalled)).values(updated_at=func.now()).returning(*r.c))
    return result.all()
