"""Queries of the stall clock: the due index (never a scan of every open deal)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from pipeline.tables import opportunities


async def due(conn: AsyncConnection, *, now: datetime, limit: int) -> list[Row]:
    """Opportunities whose stall clock ran out, earliest first, locked (other replicas skip them)."""
    query = (
        select(opportunities)
        .where(opportunities.c.stall_due_at <= now)
        .order_by(opportunities.c.stall_due_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list((await conn.execute(query)).all())


async def next_due(conn: AsyncConnection) -> datetime | None:
    """The earliest due time of all (one index probe)."""
    return (await conn.execute(select(func.min(opportunities.c.stall_due_at)))).scalar()


async def set_clock(conn: AsyncConnection, *, opportunity_id: uuid.UUID, values: dict[str, Any]) -> None:
    """Point the opportunity's stall clock at what comes next (not a change of the deal: its version stays)."""
    await conn.execute(update(opportunities).where(opportunities.c.id == opportunity_id).values(**values))
