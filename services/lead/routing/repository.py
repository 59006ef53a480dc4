"""Queries of routing: the live rule set and its versions, the locked read of the reps, decisions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Row,
    Text,
    and_,
    bindparam,
    delete,
    func,
    insert,
    null,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection

from lead.tables import (
    leads,
    routing_decisions,
    routing_rules,
    rule_versions,
)


def _owner_of(customer_id: str | None, exclude_lead: str | None, before: datetime | None = None) -> Any:
    """The rep who owns the customer's most recent other lead (assigned before `before`, when given), as a scalar
    subquery (NULL without a customer)."""
    if not customer_id:
        return null()
    where = [leads.c.customer_id == customer_id, leads.c.assignee_id.is_not(None)]
    if exclude_lead:
        where.append(leads.c.id != exclude_lead)
    if before is not None:
        where.append(leads.c.assigned_at < before)
    query = select(leads.c.assignee_id).where(and_(*where)).order_by(leads.c.assigned_at.desc()).limit(1)
    return query.scalar_subquery()


def _live_version() -> Any:
    return select(func.coalesce(func.max(rule_versions.c.version), 0)).scalar_subquery()


async def routing_context(
    conn: AsyncConnection, *, customer_id: str | None, exclude_lead: str, before: datetime | None = None
) -> Row[Any]:
    """(version, owner_id): the live rule version and the customer's account owner (as it stood at `before`, when
    given), in one round trip."""
    owner = _owner_of(customer_id, exclude_lead, before)
    query = select(_live_version().label("version"), owner.label("owner_id"))
    return (await conn.execute(query)).one()


# The locks, then the reps, in one round trip. Its SQL: lead/sql/routing_reps_v1.sql (migration 0004).
_ROUTING_REPS = text(
    "SELECT CAST(id AS text) AS id, CAST(team_id AS text) AS team_id, active, on_leave, leave_until, capacity, "
    "weight, skills, open_leads, served, team_manager_id, team_calendar "
    "FROM lead.routing_reps(CAST(:keys AS text[]), CAST(:team_ids AS uuid[]), CAST(:owner_id AS uuid))"
).bindparams(bindparam("keys", type_=ARRAY(Text)), bindparam("team_ids", type_=ARRAY(Text)))


async def routing_reps(
    conn: AsyncConnection, *, lock: Sequence[str], team_ids: list[str], owner_id: str | None
) -> list[Row[Any]]:
    """The locks named `lock`, then the reps of the teams (and the account owner) with what routing weighs: id,
    team_id, active, on_leave, leave_until, capacity, weight, skills, open_leads, served, team_manager_id,
    team_calendar. One round trip."""
    if not team_ids and not owner_id and not lock:
        return []
    params = {"keys": sorted(lock), "team_ids": list(team_ids), "owner_id": owner_id or None}
    return list((await conn.execute(_ROUTING_REPS, params)).all())


async def insert_decision(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(insert(routing_decisions).values(**values))


async def list_decisions(conn: AsyncConnection, *, lead_id: str) -> list[Row[Any]]:
    query = select(routing_decisions).where(routing_decisions.c.lead_id == lead_id).order_by(routing_decisions.c.seq)
    return list((await conn.execute(query)).all())


async def live_rules(conn: AsyncConnection) -> tuple[int, list[dict[str, Any]]]:
    """The published rule set: (version, rules as JSON); (0, []) before anything is published."""
    query = select(rule_versions.c.version, rule_versions.c.rules).order_by(rule_versions.c.version.desc()).limit(1)
    row = (await conn.execute(query)).first()
    return (row.version, row.rules) if row else (0, [])


async def live_version(conn: AsyncConnection) -> int:
    return int((await conn.execute(select(func.coalesce(func.max(rule_versions.c.version), 0)))).scalar_one())


async def insert_rule_version(
    conn: AsyncConnection, *, version: int, rules: list[dict[str, Any]], at: datetime, by: str
) -> None:
    await conn.execute(insert(rule_versions).values(version=version, rules=rules, published_at=at, published_by=by))


async def replace_rules(conn: AsyncConnection, *, rules: list[dict[str, Any]], at: datetime) -> None:
    await conn.execute(delete(routing_rules))
    for rule in rules:
        await conn.execute(insert(routing_rules).values(**{k: v for k, v in rule.items()}, updated_at=at))


async def list_rules(conn: AsyncConnection) -> list[Row[Any]]:
    query = select(routing_rules).order_by(routing_rules.c.priority, routing_rules.c.name)
    return list((await conn.execute(query)).all())


async def leads_since(conn: AsyncConnection, *, since: datetime, limit: int) -> list[Row[Any]]:
    query = select(leads).where(leads.c.captured_at >= since).order_by(leads.c.captured_at).limit(limit)
    return list((await conn.execute(query)).all())
