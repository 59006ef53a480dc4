"""Queries of the dependency register."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Row, case, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from integration_gateway.tables import dependencies

t = dependencies


async def put_dependency(conn: AsyncConnection, *, name: str, kind: str, sla: str, owner: str, probe_url: str) -> Row:
    """Create or replace a dependency's entry (its probe state is kept)."""
    values = {"kind": kind, "sla": sla, "owner": owner, "probe_url": probe_url}
    statement = insert(t).values(name=name, **values).on_conflict_do_update(index_elements=[t.c.name], set_=values)
    return (await conn.execute(statement.returning(*t.c))).one()


async def list_dependencies(conn: AsyncConnection) -> Sequence[Row]:
    return (await conn.execute(select(t).order_by(t.c.name))).all()


async def record_probe(conn: AsyncConnection, *, name: str, up: bool, detail: str) -> None:
    """A probe's answer; `since` moves only when the dependency changes between up and down."""
    await conn.execute(
        update(t).where(t.c.name == name).values(
            up=up, detail=detail, last_probe_at=func.now(),
            since=case((t.c.up.is_distinct_from(up), func.now()), else_=t.c.since),
        )
    )
