"""Every query of pipeline; functions take the caller's connection and keyword-only arguments."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from pipeline.tables import idempotency_keys, opportunities, stage_history

LIST_LIMIT = 500


async def open_opportunity(
    conn: AsyncConnection,
    *,
    lead_id: str,
    customer_id: str | None,
    owner_id: str | None,
    stage: str,
    opened_at: datetime,
) -> Row | None:
    """Insert the lead's opportunity and its first stage; None when the lead already has one."""
    row = (
        await conn.execute(
            pg_insert(opportunities)
            .values(
                id=uuid.uuid4(),
                lead_id=lead_id,
                customer_id=customer_id,
                owner_id=owner_id,
                stage=stage,
                opened_at=opened_at,
                stage_entered_at=opened_at,
            )
            .on_conflict_do_nothing(index_elements=["lead_id"])
            .returning(*opportunities.c)
        )
    ).first()
    if row is not None:
        await conn.execute(insert(stage_history).values(opportunity_id=row.id, stage=stage, at=opened_at))
    return row


async def create_opportunity(conn: AsyncConnection, *, values: dict[str, Any], by: str) -> Row | None:
    """Insert an opportunity and its first stage entry; None when its lead already has one."""
    row = (
        await conn.execute(
            pg_insert(opportunities)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["lead_id"])
            .returning(*opportunities.c)
        )
    ).first()
    if row is not None:
        await conn.execute(
            insert(stage_history).values(opportunity_id=row.id, stage=row.stage, at=row.opened_at, by=by)
        )
    return row


async def get_opportunity(conn: AsyncConnection, *, opportunity_id: uuid.UUID) -> Row | None:
    """One opportunity by id."""
    return (await conn.execute(select(opportunities).where(opportunities.c.id == opportunity_id))).first()


async def list_opportunities(
    conn: AsyncConnection, *, lead_id: str | None = None, limit: int = LIST_LIMIT
) -> list[Row]:
    """Opportunities, newest first, optionally only the lead's."""
    query = select(opportunities).order_by(opportunities.c.opened_at.desc(), opportunities.c.id).limit(limit)
    if lead_id:
        query = query.where(opportunities.c.lead_id == lead_id)
    return list((await conn.execute(query)).all())


async def list_stage_history(conn: AsyncConnection, *, opportunity_id: uuid.UUID) -> list[Row]:
    """The stages an opportunity went through, oldest first."""
    return list(
        (
            await conn.execute(
                select(stage_history)
                .where(stage_history.c.opportunity_id == opportunity_id)
                .order_by(stage_history.c.at, stage_history.c.id)
            )
        ).all()
    )


async def claim_idempotency_key(
    conn: AsyncConnection, *, scope: str, key: str, request_sha256: str, at: datetime
) -> Row | None:
    """Claim a key for this transaction; None when it was claimed before (a concurrent claim waits for that one)."""
    return (
        await conn.execute(
            pg_insert(idempotency_keys)
            .values(scope=scope, key=key, request_sha256=request_sha256, created_at=at)
            .on_conflict_do_nothing(index_elements=["scope", "key"])
            .returning(*idempotency_keys.c)
        )
    ).first()


async def get_idempotency_key(conn: AsyncConnection, *, scope: str, key: str) -> Row | None:
    query = select(idempotency_keys).where(idempotency_keys.c.scope == scope, idempotency_keys.c.key == key)
    return (await conn.execute(query)).first()


async def settle_idempotency_key(conn: AsyncConnection, *, scope: str, key: str, opportunity_id: uuid.UUID) -> None:
    await conn.execute(
        update(idempotency_keys)
        .where(idempotency_keys.c.scope == scope, idempotency_keys.c.key == key)
        .values(opportunity_id=opportunity_id)
    )
