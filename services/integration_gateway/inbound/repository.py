"""Queries of inbound sources and signed receipts."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Row, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from integration_gateway.tables import REJECTED, sources, webhook_receipts

s = sources
r = webhook_receipts


async def put_source(
    conn: AsyncConnection, *, source: str, secret: str | None, mapping: dict[str, str], kind: str
) -> Row:
    """Create or replace a source's configuration."""
    values = {"secret": secret, "mapping": mapping, "kind": kind, "updated_at": func.now()}
    statement = insert(s).values(source=source, **values)
    statement = statement.on_conflict_do_update(index_elements=[s.c.source], set_=values).returning(*s.c)
    return (await conn.execute(statement)).one()


async def get_source(conn: AsyncConnection, *, source: str) -> Row | None:
    """A source's configuration, or None."""
    return (await conn.execute(select(s).where(s.c.source == source))).first()


async def insert_rejected(
    conn: AsyncConnection, *, source: str, raw_body: str, webhook_id: str | None, payload: dict[str, Any], error: str
) -> Row:
    """Store a webhook that failed verification (no idempotency key: it claims nothing)."""
    return (
        await conn.execute(
            insert(r)
            .values(
                id=uuid.uuid4(), source=source, idempotency_key=None, payload=payload, status=REJECTED,
                error=error, raw_body=raw_body, webhook_id=webhook_id,
            )
            .returning(*r.c)
        )
    ).one()


async def insert_signed(
    conn: AsyncConnection, *, source: str, webhook_id: str, raw_body: str, payload: dict[str, Any], status: str,
    error: str = "",
) -> tuple[Row, bool]:
    """Store a verified webhook keyed by its webhook-id; a repeated id returns the first receipt and False."""
    inserted = (
        await conn.execute(
            insert(r)
            .values(
                id=uuid.uuid4(), source=source, idempotency_key=webhook_id, payload=payload, status=status,
                raw_body=raw_body, webhook_id=webhook_id, error=error,
            )
            .on_conflict_do_nothing(index_elements=[r.c.source, r.c.idempotency_key])
            .returning(*r.c)
        )
    ).first()
    if inserted is not None:
        return inserted, True
    existing = (
        await conn.execute(select(r).where(r.c.source == source, r.c.idempotency_key == webhook_id))
    ).one()
    return existing, False
