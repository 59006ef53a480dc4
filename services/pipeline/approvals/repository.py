"""Queries of approval requests (one pending per opportunity, enforced by a partial unique index)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from pipeline.tables import approvals, notifications

LIST_LIMIT = 500


async def create(conn: AsyncConnection, *, values: dict[str, Any]) -> Row | None:
    """A pending approval; None when the opportunity already has one pending."""
    return (
        await conn.execute(
            pg_insert(approvals)
            .values(id=uuid.uuid4(), status="pending", **values)
            .on_conflict_do_nothing(
                index_elements=["opportunity_id"], index_where=approvals.c.status == "pending"
            )
            .returning(*approvals.c)
        )
    ).first()


async def get(conn: AsyncConnection, *, approval_id: uuid.UUID, lock: bool = False) -> Row | None:
    query = select(approvals).where(approvals.c.id == approval_id)
    return (await conn.execute(query.with_for_update() if lock else query)).first()


async def pending_of(conn: AsyncConnection, *, opportunity_id: uuid.UUID) -> Row | None:
    query = select(approvals).where(approvals.c.opportunity_id == opportunity_id, approvals.c.status == "pending")
    return (await conn.execute(query)).first()


async def decide(
    conn: AsyncConnection, *, approval_id: uuid.UUID, status: str, decided_by: str, reason: str, at: datetime
) -> Row:
    return (
        await conn.execute(
            update(approvals)
            .where(approvals.c.id == approval_id, approvals.c.status == "pending")
            .values(status=status, decided_by=decided_by, decision_reason=reason, decided_at=at)
            .returning(*approvals.c)
        )
    ).one()


async def list_approvals(
    conn: AsyncConnection, *, status: str | None, opportunity_id: uuid.UUID | None, limit: int = LIST_LIMIT
) -> list[Row]:
    query = select(approvals).order_by(approvals.c.created_at.desc()).limit(limit)
    if status:
        query = query.where(approvals.c.status == status)
    if opportunity_id:
        query = query.where(approvals.c.opportunity_id == opportunity_id)
    return list((await conn.execute(query)).all())


async def count_pending(conn: AsyncConnection) -> int:
    return int((await conn.execute(select(func.count()).where(approvals.c.status == "pending"))).scalar() or 0)


async def add_notification(
    conn: AsyncConnection, *, opportunity_id: uuid.UUID, kind: str, recipient_id: str, detail: str, at: datetime
) -> None:
    """Remember what the service asked the notification service to tell (served per opportunity)."""
    await conn.execute(
        insert(notifications).values(
            id=uuid.uuid4(), opportunity_id=opportunity_id, kind=kind, recipient_id=recipient_id, detail=detail, at=at
        )
    )


async def list_notifications(conn: AsyncConnection, *, opportunity_id: uuid.UUID) -> list[Row]:
    query = (
        select(notifications).where(notifications.c.opportunity_id == opportunity_id).order_by(notifications.c.at)
    )
    return list((await conn.execute(query)).all())
