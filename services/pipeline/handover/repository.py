"""Queries of handover: every open opportunity of a rep changes owner in one statement."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from pipeline.tables import opportunities


async def hand_over(conn: AsyncConnection, *, from_owner: str, to_owner: str, team_id: str | None) -> list[Row]:
    """Give the rep's open opportunities to another owner (and team, when known); the moved rows."""
    values: dict[str, object] = {"owner_id": to_owner, "version": opportunities.c.version + 1}
    if team_id:
        values["team_id"] = team_id
    query = (
        update(opportunities)
        .where(opportunities.c.owner_id == from_owner, opportunities.c.status == "open")
        .values(**values)
        .returning(opportunities.c.id)
    )
    return list((await conn.execute(query)).all())
