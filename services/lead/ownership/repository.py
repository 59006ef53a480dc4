"""Queries of ownership: assignment, claim, contact, the one clock per lead, the public pool, cool-downs."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Row,
    Table,
    TextClause,
    and_,
    bindparam,
    delete,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from crm_common.bus.outbox import RidingEvents, events_written
from lead.records import LEAD_COLUMNS, NO_EVENTS, STEP_PARAMS, STEP_ROWS, Step, events_part, riding_shape, step_arrays
from lead.tables import (
    contacts,
    leads,
    pool_cooldowns,
    reps,
    routing_decisions,
    rr_counts,
)

# Leads a rep holds and has not converted: what capacity counts.
OPEN_STATUSES = ("assigned", "claimed", "contacted")


_DECISION_COLUMNS = [c.name for c in routing_decisions.c if c.name != "seq"]


# What the table's server defaults would give a decision row that leaves a column out.
_DECISION_DEFAULTS: dict[str, Any] = {
    "rule_id": "",
    "rule_name": "",
    "rule_version": 0,
    "strategy": "",
    "team_id": "",
    "chosen_rep_id": "",
    "to_pool": False,
    "explanation": "",
}


@functools.cache
def _assign_lead_sql(
    hold_rep: bool, with_decision: bool, with_served: bool, riding: tuple[Table | None, bool] = NO_EVENTS
) -> TextClause:
    if hold_rep:  # share-locked until commit; no row unless the rep is (still) active
        held = "SELECT id FROM lead.reps WHERE id = :rep_id AND active FOR SHARE"
    else:
        held = "SELECT CAST(:rep_id AS uuid) AS id"
    parts = [f"held AS ({held})"]
    params = [bindparam("rep_id", type_=reps.c.id.type), bindparam("lead_id", type_=leads.c.id.type)]
    if with_decision:
        values = ", ".join(f":d_{n}" for n in _DECISION_COLUMNS)
        columns = ", ".join(_DECISION_COLUMNS)
        parts.append(f"decision AS (INSERT INTO lead.routing_decisions ({columns}) SELECT {values} FROM held)")
        params += [bindparam(f"d_{n}", type_=routing_decisions.c[n].type) for n in _DECISION_COLUMNS]
    if with_served:
        parts.append(
            "served AS (INSERT INTO lead.rr_counts AS c (team_id, rep_id, served)"
            " SELECT :served_team, held.id, :served_start + 1 FROM held"
            " ON CONFLICT (team_id, rep_id) DO UPDATE SET served = c.served + 1)"
        )
        params += [
            bindparam("served_team", type_=rr_counts.c.team_id.type),
            bindparam("served_start", type_=BigInteger),
        ]
    parts.append(
        "steps AS (INSERT INTO lead.lead_timeline (lead_id, step, at, detail)"
        f" SELECT :lead_id, s.step, s.at, s.detail FROM held, {STEP_ROWS})"
    )
    events, event_params = events_part(riding, "held")
    parts += events
    params += event_params
    sql = f"""
        WITH {", ".join(parts)}
        UPDATE lead.leads SET assignee_id = :rep_id, team_id = :team_id, rule_id = :rule_id, assigned_at = :at,
            status = 'assigned', claimed_at = NULL, pooled_at = NULL, claim_deadline_at = :claim_deadline,
            clock_kind = 'claim', clock_due_at = :claim_deadline
        WHERE id = :lead_id AND EXISTS (SELECT 1 FROM held)
        RETURNING {LEAD_COLUMNS}
    """
    params += [
        bindparam("team_id", type_=leads.c.team_id.type),
        bindparam("rule_id", type_=leads.c.rule_id.type),
        bindparam("at", type_=leads.c.assigned_at.type),
        bindparam("claim_deadline", type_=leads.c.claim_deadline_at.type),
    ]
    return text(sql).bindparams(*params, *STEP_PARAMS).columns(*leads.c)


async def assign_lead(
    conn: AsyncConnection,
    *,
    lead_id: str,
    rep_id: str,
    team_id: str | None,
    rule_id: str | None,
    at: datetime,
    claim_deadline: datetime,
    steps: Sequence[Step],
    decision: dict[str, Any] | None = None,
    served: tuple[str, int] | None = None,
    hold_rep: bool = False,
    events: RidingEvents | None = None,
) -> Row[Any] | None:
    """Give the lead to the rep in one round trip: decision, rotation count, timeline, events and the lead row.

    With hold_rep the rep's row is share-locked until commit and nothing is written unless the rep is still
    active (None is returned then): a departure waits for this assignment, or this sees the departure.
    served is (team, start): one more lead served by the rep in that team's rotation, from `start` if new.
    """
    values: dict[str, Any] = {
        "rep_id": rep_id,
        "lead_id": lead_id,
        "team_id": team_id,
        "rule_id": rule_id or None,
        "at": at,
        "claim_deadline": claim_deadline,
        **step_arrays(steps),
    }
    if decision is not None:
        values.update({f"d_{n}": decision.get(n, _DECISION_DEFAULTS.get(n)) for n in _DECISION_COLUMNS})
    if served is not None:
        values["served_team"], values["served_start"] = served
    if events is not None:
        values.update(events.params)
    query = _assign_lead_sql(hold_rep, decision is not None, served is not None, riding_shape(events))
    row = (await conn.execute(query, values)).first()
    if events is not None and row is not None:  # no row: the events were not written either
        events_written(conn, events)
    return row


async def set_claimed(conn: AsyncConnection, *, lead_id: str, at: datetime) -> None:
    await conn.execute(
        update(leads).where(leads.c.id == lead_id).values(claimed_at=at, status="claimed", last_activity_at=at)
    )


async def set_first_contact(conn: AsyncConnection, *, lead_id: str, at: datetime) -> None:
    await conn.execute(update(leads).where(leads.c.id == lead_id).values(first_contact_at=at, status="contacted"))


async def insert_contact(
    conn: AsyncConnection, *, lead_id: str, rep_id: str, channel: str, summary: str, at: datetime
) -> None:
    await conn.execute(
        insert(contacts).values(
            id=str(uuid.uuid4()), lead_id=lead_id, rep_id=rep_id, channel=channel, summary=summary, at=at
        )
    )


async def set_clock(
    conn: AsyncConnection, *, lead_id: str, kind: str | None, due: datetime | None, **values: Any
) -> None:
    """Point the lead's one clock at what runs out next (None: nothing)."""
    await conn.execute(update(leads).where(leads.c.id == lead_id).values(clock_kind=kind, clock_due_at=due, **values))


async def set_pooled(conn: AsyncConnection, *, lead_id: str, at: datetime, lapsed: list[str]) -> None:
    await conn.execute(
        update(leads)
        .where(leads.c.id == lead_id)
        .values(
            assignee_id=None,
            status="pool",
            pooled_at=at,
            claimed_at=None,
            clock_kind=None,
            clock_due_at=None,
            lapsed_rep_ids=lapsed,
        )
    )


async def set_waiting(conn: AsyncConnection, *, lead_id: str) -> None:
    """Take the lead back from its assignee to wait, unassigned, for the sweeper to route it again."""
    await conn.execute(
        update(leads)
        .where(leads.c.id == lead_id)
        .values(
            assignee_id=None, status="new", claimed_at=None, claim_deadline_at=None, clock_kind=None, clock_due_at=None
        )
    )


async def set_lapsed(conn: AsyncConnection, *, lead_id: str, lapsed: list[str]) -> None:
    await conn.execute(update(leads).where(leads.c.id == lead_id).values(lapsed_rep_ids=lapsed))


async def set_converted(conn: AsyncConnection, *, lead_id: str, at: datetime) -> None:
    await conn.execute(
        update(leads).where(leads.c.id == lead_id).values(converted_at=at, clock_kind=None, clock_due_at=None)
    )


async def leads_due(conn: AsyncConnection, *, now: datetime, limit: int) -> list[Row[Any]]:
    """Leads whose clock ran out, locked for this worker (other replicas skip them)."""
    query = (
        select(leads)
        .where(and_(leads.c.clock_due_at.is_not(None), leads.c.clock_due_at <= now))
        .order_by(leads.c.clock_due_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list((await conn.execute(query)).all())


async def open_leads_of(conn: AsyncConnection, *, rep_id: str) -> list[Row[Any]]:
    query = (
        select(leads)
        .where(and_(leads.c.assignee_id == rep_id, leads.c.converted_at.is_(None), leads.c.status.in_(OPEN_STATUSES)))
        .order_by(leads.c.captured_at)
        .with_for_update()
    )
    return list((await conn.execute(query)).all())


async def count_open(conn: AsyncConnection, *, rep_id: str) -> int:
    query = (
        select(func.count())
        .select_from(leads)
        .where(and_(leads.c.assignee_id == rep_id, leads.c.converted_at.is_(None), leads.c.status.in_(OPEN_STATUSES)))
    )
    return int((await conn.execute(query)).scalar_one())


async def waiting_stats(conn: AsyncConnection) -> list[Row[Any]]:
    """(state, count, oldest start) for unassigned, unclaimed and uncontacted leads."""
    query = text(
        """
        SELECT 'unassigned' AS state, count(*) AS n, min(captured_at) AS since FROM lead.leads
          WHERE status = 'new' AND assignee_id IS NULL
        UNION ALL
        SELECT 'unclaimed', count(*), min(assigned_at) FROM lead.leads
          WHERE status = 'assigned' AND converted_at IS NULL
        UNION ALL
        SELECT 'uncontacted', count(*), min(claimed_at) FROM lead.leads
          WHERE status = 'claimed' AND first_contact_at IS NULL AND converted_at IS NULL
        """
    )
    return list((await conn.execute(query)).all())


async def list_pool(conn: AsyncConnection) -> list[Row[Any]]:
    query = select(leads).where(leads.c.status == "pool").order_by(leads.c.score.desc(), leads.c.pooled_at).limit(500)
    return list((await conn.execute(query)).all())


async def set_cooldown(conn: AsyncConnection, *, lead_id: str, rep_id: str, until: datetime) -> None:
    query = pg_insert(pool_cooldowns).values(lead_id=lead_id, rep_id=rep_id, until=until)
    await conn.execute(query.on_conflict_do_update(index_elements=["lead_id", "rep_id"], set_={"until": until}))


async def cooldowns(conn: AsyncConnection, *, lead_id: str, now: datetime) -> dict[str, datetime]:
    """Reps still cooling down on a lead, with when each cool-down ends."""
    query = select(pool_cooldowns.c.rep_id, pool_cooldowns.c.until).where(
        and_(pool_cooldowns.c.lead_id == lead_id, pool_cooldowns.c.until > now)
    )
    return {str(rep_id): until for rep_id, until in (await conn.execute(query)).all()}


async def clear_cooldown(conn: AsyncConnection, *, lead_id: str, rep_id: str) -> None:
    await conn.execute(
        delete(pool_cooldowns).where(and_(pool_cooldowns.c.lead_id == lead_id, pool_cooldowns.c.rep_id == rep_id))
    )
