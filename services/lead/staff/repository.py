"""Queries of staff: teams (manager, calendar, territories) and reps (capacity, weight, skills, leave, load)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Row,
    and_,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from lead.tables import (
    open_lead_counts,
    reps,
    rr_counts,
    teams,
)


async def insert_team(conn: AsyncConnection, *, name: str, at: datetime) -> Row[Any] | None:
    query = pg_insert(teams).values(id=str(uuid.uuid4()), name=name, created_at=at).on_conflict_do_nothing()
    return (await conn.execute(query.returning(teams))).first()


async def list_teams(conn: AsyncConnection) -> list[Row[Any]]:
    return list((await conn.execute(select(teams).order_by(teams.c.name))).all())


async def get_team(conn: AsyncConnection, *, team_id: str) -> Row[Any] | None:
    return (await conn.execute(select(teams).where(teams.c.id == team_id))).first()


async def get_teams(conn: AsyncConnection, *, team_ids: list[str]) -> list[Row[Any]]:
    return list((await conn.execute(select(teams).where(teams.c.id.in_(team_ids)))).all())


async def update_team(conn: AsyncConnection, *, team_id: str, **values: Any) -> Row[Any] | None:
    return (await conn.execute(update(teams).where(teams.c.id == team_id).values(**values).returning(teams))).first()


async def insert_rep(conn: AsyncConnection, *, name: str, email: str, team_id: str, at: datetime) -> Row[Any]:
    query = insert(reps).values(id=str(uuid.uuid4()), name=name, email=email, team_id=team_id, created_at=at)
    return (await conn.execute(query.returning(reps))).one()


async def list_reps(conn: AsyncConnection, *, team_id: str | None = None) -> list[Row[Any]]:
    query = select(reps).order_by(reps.c.name, reps.c.id)
    if team_id:
        query = query.where(reps.c.team_id == team_id)
    return list((await conn.execute(query)).all())


async def get_rep(conn: AsyncConnection, *, rep_id: str) -> Row[Any] | None:
    return (await conn.execute(select(reps).where(reps.c.id == rep_id))).first()


async def update_rep(conn: AsyncConnection, *, rep_id: str, **values: Any) -> Row[Any] | None:
    if not values:
        return (await conn.execute(select(reps).where(reps.c.id == rep_id))).first()
    return (await conn.execute(update(reps).where(reps.c.id == rep_id).values(**values).returning(reps))).first()


async def set_rep_active(conn: AsyncConnection, *, rep_id: str, active: bool) -> Row[Any] | None:
    query = update(reps).where(reps.c.id == rep_id).values(active=active).returning(reps)
    return (await conn.execute(query)).first()


async def reps_with_load(
    conn: AsyncConnection, *, team_ids: list[str] | None = None, rep_ids: list[str] | None = None
) -> list[Row[Any]]:
    """Reps with their count of open leads and leads served in their team's rotation."""
    query = (
        select(reps, func.coalesce(open_lead_counts.c.open_leads, 0).label("open_leads"), rr_counts.c.served)
        .select_from(
            reps.outerjoin(open_lead_counts, open_lead_counts.c.rep_id == reps.c.id).outerjoin(
                rr_counts, and_(rr_counts.c.rep_id == reps.c.id, rr_counts.c.team_id == reps.c.team_id)
            )
        )
        .order_by(reps.c.id)
    )
    if team_ids is not None:
        query = query.where(reps.c.team_id.in_(team_ids))
    if rep_ids is not None:
        query = query.where(reps.c.id.in_(rep_ids))
    return list((await conn.execute(query)).all())
