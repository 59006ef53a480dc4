"""Every query of the lead service, as keyword-only functions over a connection."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from lead.domain import CleanLead
from lead.tables import contacts, leads, reps, routing_rules, rr_cursors, teams, timeline


def parse_id(value: str) -> str | None:
    """The canonical form of a UUID string, or None when it is not one."""
    try:
        return str(uuid.UUID(value))
    except (ValueError, AttributeError, TypeError):
        return None


async def find_lead_by_key(conn: AsyncConnection, *, idempotency_key: str) -> Row[Any] | None:
    return (await conn.execute(select(leads).where(leads.c.idempotency_key == idempotency_key))).first()


async def get_lead(conn: AsyncConnection, *, lead_id: str, for_update: bool = False) -> Row[Any] | None:
    query = select(leads).where(leads.c.id == lead_id)
    if for_update:
        query = query.with_for_update()
    return (await conn.execute(query)).first()


async def insert_lead(
    conn: AsyncConnection,
    *,
    lead: CleanLead,
    idempotency_key: str | None,
    customer_id: str | None,
    traceparent: str,
    trace_id: str,
    captured_at: datetime,
) -> str | None:
    """Store a new lead; None when another capture with the same idempotency key won the race."""
    lead_id = str(uuid.uuid4())
    values = {
        "id": lead_id,
        "idempotency_key": idempotency_key,
        "name": lead.name,
        "phone_e164": lead.phone_e164,
        "email": lead.email,
        "company": lead.company,
        "province": lead.province,
        "city": lead.city,
        "industry": lead.industry,
        "product_interest": lead.product_interest,
        "notes": lead.notes,
        **lead.source,
        "status": "new",
        "customer_id": customer_id,
        "traceparent": traceparent,
        "trace_id": trace_id,
        "captured_at": captured_at,
    }
    query = pg_insert(leads).values(values).on_conflict_do_nothing(index_elements=["idempotency_key"])
    inserted = await conn.execute(query.returning(leads.c.id))
    return lead_id if inserted.first() else None


async def set_customer(conn: AsyncConnection, *, lead_id: str, customer_id: str) -> None:
    await conn.execute(update(leads).where(leads.c.id == lead_id).values(customer_id=customer_id))


async def set_assignment(
    conn: AsyncConnection, *, lead_id: str, rep_id: str, team_id: str, rule_id: str, at: datetime
) -> None:
    await conn.execute(
        update(leads)
        .where(leads.c.id == lead_id)
        .values(assignee_id=rep_id, team_id=team_id, rule_id=rule_id, assigned_at=at, status="assigned")
    )


async def set_claimed(conn: AsyncConnection, *, lead_id: str, at: datetime) -> None:
    await conn.execute(update(leads).where(leads.c.id == lead_id).values(claimed_at=at, status="claimed"))


async def set_first_contact(conn: AsyncConnection, *, lead_id: str, at: datetime) -> None:
    await conn.execute(update(leads).where(leads.c.id == lead_id).values(first_contact_at=at, status="contacted"))


async def add_timeline(conn: AsyncConnection, *, lead_id: str, step: str, at: datetime, detail: str = "") -> None:
    await conn.execute(insert(timeline).values(lead_id=lead_id, step=step, at=at, detail=detail))


async def list_timeline(conn: AsyncConnection, *, lead_id: str) -> list[Row[Any]]:
    query = select(timeline).where(timeline.c.lead_id == lead_id).order_by(timeline.c.at, timeline.c.seq)
    return list((await conn.execute(query)).all())


async def insert_contact(
    conn: AsyncConnection, *, lead_id: str, rep_id: str, channel: str, summary: str, at: datetime
) -> None:
    await conn.execute(
        insert(contacts).values(
            id=str(uuid.uuid4()), lead_id=lead_id, rep_id=rep_id, channel=channel, summary=summary, at=at
        )
    )


async def leads_waiting(conn: AsyncConnection, *, older_than: datetime, unresolved: bool, limit: int) -> list[str]:
    """Ids of leads still without a customer (unresolved) or without an assignee, locked for this worker."""
    column = leads.c.customer_id if unresolved else leads.c.assignee_id
    query = (
        select(leads.c.id)
        .where(and_(column.is_(None), leads.c.captured_at < older_than))
        .order_by(leads.c.captured_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list((await conn.execute(query)).scalars())


# Teams, reps and rules.


async def insert_team(conn: AsyncConnection, *, name: str, at: datetime) -> Row[Any] | None:
    query = pg_insert(teams).values(id=str(uuid.uuid4()), name=name, created_at=at).on_conflict_do_nothing()
    return (await conn.execute(query.returning(teams))).first()


async def list_teams(conn: AsyncConnection) -> list[Row[Any]]:
    return list((await conn.execute(select(teams).order_by(teams.c.name))).all())


async def get_team(conn: AsyncConnection, *, team_id: str) -> Row[Any] | None:
    return (await conn.execute(select(teams).where(teams.c.id == team_id))).first()


async def insert_rep(conn: AsyncConnection, *, name: str, email: str, team_id: str, at: datetime) -> Row[Any]:
    query = insert(reps).values(id=str(uuid.uuid4()), name=name, email=email, team_id=team_id, created_at=at)
    return (await conn.execute(query.returning(reps))).one()


async def list_reps(conn: AsyncConnection, *, team_id: str | None = None) -> list[Row[Any]]:
    query = select(reps).order_by(reps.c.name, reps.c.id)
    if team_id:
        query = query.where(reps.c.team_id == team_id)
    return list((await conn.execute(query)).all())


async def set_rep_active(conn: AsyncConnection, *, rep_id: str, active: bool) -> Row[Any] | None:
    query = update(reps).where(reps.c.id == rep_id).values(active=active).returning(reps)
    return (await conn.execute(query)).first()


async def active_rep_ids(conn: AsyncConnection, *, team_id: str) -> list[str]:
    query = select(reps.c.id).where(and_(reps.c.team_id == team_id, reps.c.active.is_(True)))
    return list((await conn.execute(query)).scalars())


async def upsert_rule(
    conn: AsyncConnection,
    *,
    rule_id: str | None,
    name: str,
    priority: int,
    conditions: dict[str, list[str]],
    team_id: str,
    strategy: str,
    at: datetime,
) -> Row[Any]:
    values = {
        "id": rule_id or str(uuid.uuid4()),
        "name": name,
        "priority": priority,
        "conditions": conditions,
        "team_id": team_id,
        "strategy": strategy,
        "updated_at": at,
    }
    query = pg_insert(routing_rules).values(values)
    query = query.on_conflict_do_update(
        index_elements=["name"], set_={k: query.excluded[k] for k in values if k not in ("id", "name")}
    )
    return (await conn.execute(query.returning(routing_rules))).one()


async def list_rules(conn: AsyncConnection) -> list[Row[Any]]:
    query = select(routing_rules).order_by(routing_rules.c.priority, routing_rules.c.name)
    return list((await conn.execute(query)).all())


async def lock_cursor(conn: AsyncConnection, *, rule_id: str) -> str | None:
    """Lock the rule's round-robin cursor for this transaction and return the last rep it chose."""
    await conn.execute(pg_insert(rr_cursors).values(rule_id=rule_id).on_conflict_do_nothing())
    query = select(rr_cursors.c.last_rep_id).where(rr_cursors.c.rule_id == rule_id).with_for_update()
    return (await conn.execute(query)).scalar_one()


async def move_cursor(conn: AsyncConnection, *, rule_id: str, rep_id: str) -> None:
    await conn.execute(update(rr_cursors).where(rr_cursors.c.rule_id == rule_id).values(last_rep_id=rep_id))


async def count_leads(conn: AsyncConnection) -> int:
    return int((await conn.execute(select(func.count()).select_from(leads))).scalar_one())
