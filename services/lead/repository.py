"""Every query of the lead service, as keyword-only functions over a connection."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    BigInteger,
    DateTime,
    Insert,
    Row,
    Table,
    Text,
    TextClause,
    and_,
    bindparam,
    delete,
    exists,
    func,
    insert,
    null,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from crm_common.bus.outbox import RidingEvents, events_cte, events_cte_params, events_written
from lead.domain import CleanLead
from lead.tables import (
    contacts,
    idempotency_keys,
    leads,
    open_lead_counts,
    pool_cooldowns,
    quarantine,
    reps,
    routing_decisions,
    routing_rules,
    rr_counts,
    rr_cursors,
    rule_versions,
    teams,
    timeline,
    touches,
)

# Leads a rep holds and has not converted: what capacity counts.
OPEN_STATUSES = ("assigned", "claimed", "contacted")


class Step(NamedTuple):
    """One timeline entry as written (the answer to a capture is built from these, not re-read)."""

    step: str
    at: datetime
    detail: str = ""


def parse_id(value: str) -> str | None:
    """The canonical form of a UUID string, or None when it is not one."""
    try:
        return str(uuid.UUID(value))
    except (ValueError, AttributeError, TypeError):
        return None


async def get_lead(conn: AsyncConnection, *, lead_id: str, for_update: bool = False) -> Row[Any] | None:
    query = select(leads).where(leads.c.id == lead_id)
    if for_update:
        query = query.with_for_update()
    return (await conn.execute(query)).first()


# Statements with data-modifying CTEs, as SQL text: SQLAlchemy cannot cache the compiled form of the
# equivalent Core constructs and would compile them on every capture. One text per shape, built once.
_STEPS = "unnest(:steps, :step_ats, :step_details) AS s(step, at, detail)"
_STEP_PARAMS = (
    bindparam("steps", type_=ARRAY(Text)),
    bindparam("step_ats", type_=ARRAY(DateTime(timezone=True))),
    bindparam("step_details", type_=ARRAY(Text)),
)
_LEAD_COLUMNS = ", ".join(c.name for c in leads.c)
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


def _step_arrays(steps: Sequence[Step]) -> dict[str, list[Any]]:
    return {
        "steps": [s.step for s in steps],
        "step_ats": [s.at for s in steps],
        "step_details": [s.detail for s in steps],
    }


_NO_EVENTS: tuple[Table | None, bool] = (None, False)


def _riding(riding: RidingEvents | None) -> tuple[Table | None, bool]:
    """(outbox, NOTIFY wanted) of events riding on a statement: the shape of its events CTE."""
    return _NO_EVENTS if riding is None else (riding.outbox, riding.notify)


def _events_part(riding: tuple[Table | None, bool], when: str) -> tuple[list[str], tuple[Any, ...]]:
    """The events CTE (written only when the CTE `when` produced a row) and its bindparams, if events ride."""
    outbox, notify = riding
    if outbox is None:
        return [], ()
    return [events_cte(outbox, notify=notify, when=when)], events_cte_params(notify=notify)


@functools.cache
def _insert_lead_with_steps(names: frozenset[str], riding: tuple[Table | None, bool] = _NO_EVENTS) -> TextClause:
    columns = sorted(names)
    events, event_params = _events_part(riding, "new_lead")
    sql = f"""
        WITH new_lead AS (
            INSERT INTO lead.leads ({", ".join(columns)}) VALUES ({", ".join(f":{c}" for c in columns)})
            RETURNING {_LEAD_COLUMNS}
        ), new_steps AS (
            INSERT INTO lead.lead_timeline (lead_id, step, at, detail)
            SELECT new_lead.id, s.step, s.at, s.detail FROM new_lead, {_STEPS}
        ){"".join(", " + e for e in events)}
        SELECT * FROM new_lead
    """
    params = [bindparam(c, type_=leads.c[c].type) for c in columns]
    return text(sql).bindparams(*params, *_STEP_PARAMS, *event_params).columns(*leads.c)


@functools.cache
def _assign_lead_sql(
    hold_rep: bool, with_decision: bool, with_served: bool, riding: tuple[Table | None, bool] = _NO_EVENTS
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
        f" SELECT :lead_id, s.step, s.at, s.detail FROM held, {_STEPS})"
    )
    events, event_params = _events_part(riding, "held")
    parts += events
    params += event_params
    sql = f"""
        WITH {", ".join(parts)}
        UPDATE lead.leads SET assignee_id = :rep_id, team_id = :team_id, rule_id = :rule_id, assigned_at = :at,
            status = 'assigned', claimed_at = NULL, pooled_at = NULL, claim_deadline_at = :claim_deadline,
            clock_kind = 'claim', clock_due_at = :claim_deadline
        WHERE id = :lead_id AND EXISTS (SELECT 1 FROM held)
        RETURNING {_LEAD_COLUMNS}
    """
    params += [
        bindparam("team_id", type_=leads.c.team_id.type),
        bindparam("rule_id", type_=leads.c.rule_id.type),
        bindparam("at", type_=leads.c.assigned_at.type),
        bindparam("claim_deadline", type_=leads.c.claim_deadline_at.type),
    ]
    return text(sql).bindparams(*params, *_STEP_PARAMS).columns(*leads.c)


async def insert_lead(
    conn: AsyncConnection,
    *,
    lead: CleanLead,
    idempotency_key: str | None,
    customer_id: str | None,
    traceparent: str,
    trace_id: str,
    captured_at: datetime,
    score: int = 0,
    score_parts: dict[str, float] | None = None,
    contact_deadline: datetime | None = None,
    steps: Sequence[Step] = (),
    lead_id: str | None = None,
    events: RidingEvents | None = None,
) -> Row[Any] | None:
    """Store a new lead (and its first timeline steps) and return it (the caller holds the key's lock).

    events (outbox.riding_events) are written by the same statement, only if the lead was.
    """
    lead_id = lead_id or str(uuid.uuid4())
    values = {
        "contact_deadline_at": contact_deadline,
        "customer_tier": lead.customer_tier,
        "location_inferred": lead.location_inferred,
        "score": score,
        "score_parts": score_parts or {},
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
    if not steps and events is None:
        return (await conn.execute(insert(leads).values(values).returning(leads))).first()
    # One round trip: the lead, its first timeline steps and its events, those written only if the lead was.
    query = _insert_lead_with_steps(frozenset(values), _riding(events))
    params = {**values, **_step_arrays(steps), **(events.params if events else {})}
    row = (await conn.execute(query, params)).first()
    if events is not None and row is not None:  # no row: the events were not written either
        events_written(conn, events)
    return row


async def set_customer(conn: AsyncConnection, *, lead_id: str, customer_id: str) -> None:
    await conn.execute(update(leads).where(leads.c.id == lead_id).values(customer_id=customer_id))


async def set_claimed(conn: AsyncConnection, *, lead_id: str, at: datetime) -> None:
    await conn.execute(
        update(leads).where(leads.c.id == lead_id).values(claimed_at=at, status="claimed", last_activity_at=at)
    )


async def set_first_contact(conn: AsyncConnection, *, lead_id: str, at: datetime) -> None:
    await conn.execute(update(leads).where(leads.c.id == lead_id).values(first_contact_at=at, status="contacted"))


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


async def lock_key(conn: AsyncConnection, *, key: str) -> None:
    """A transaction-scoped lock on a name, shared by every replica."""
    await conn.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": key})


# Statements run on every capture, parsed once.
_LOCK_KEYS = text("SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) FROM unnest(CAST(:keys AS text[])) AS k")
# A repeat submission: counted on the lead always, stored (with a timeline step) only while the lead has at most
# :limit touches, so that a client repeating itself cannot grow a lead without bound. The step after the last
# stored touch says so once.
_ADD_TOUCH = text(
    """
    WITH counted AS (
        UPDATE lead.leads SET touches = touches + 1 WHERE id = :lead_id RETURNING touches
    ), stored AS (
        INSERT INTO lead.lead_touches (lead_id, at, channel, idempotency_key, input)
        SELECT :lead_id, :at, :channel, :key, :input FROM counted WHERE counted.touches <= :limit
    ), steps AS (
        INSERT INTO lead.lead_timeline (lead_id, step, at, detail)
        SELECT :lead_id, CASE WHEN counted.touches <= :limit THEN 'touch' ELSE 'touches_counted' END, :at,
            CASE WHEN counted.touches <= :limit THEN :channel
                 ELSE 'more than ' || :limit || ' repeats: further repeats are counted on the lead, not stored' END
        FROM counted WHERE counted.touches <= :limit + 1
    )
    SELECT touches FROM counted
    """
).bindparams(
    bindparam("lead_id", type_=touches.c.lead_id.type),
    bindparam("at", type_=DateTime(timezone=True)),
    bindparam("input", type_=touches.c.input.type),
    bindparam("limit", type_=BigInteger),
)


async def lock_keys(conn: AsyncConnection, *, keys: list[str]) -> None:
    """Several such locks in one round trip, always in the same order (no deadlock between two callers)."""
    if keys:
        await conn.execute(_LOCK_KEYS, {"keys": sorted(keys)})


async def add_touch(
    conn: AsyncConnection,
    *,
    lead_id: str,
    at: datetime,
    channel: str,
    idempotency_key: str | None,
    data: dict,
    max_stored: int,
) -> int:
    """Count a repeat on the lead, storing it only among its first `max_stored`; returns the lead's touches."""
    params = {"lead_id": lead_id, "at": at, "channel": channel, "key": idempotency_key, "input": data}
    return int((await conn.execute(_ADD_TOUCH, {**params, "limit": max_stored})).scalar_one())


async def find_key(conn: AsyncConnection, *, scope: str, key: str) -> Row[Any] | None:
    """What a caller's idempotency key answered before (outcome, lead_id, quarantine_id, request_hash), or None."""
    query = select(idempotency_keys).where(and_(idempotency_keys.c.scope == scope, idempotency_keys.c.key == key))
    return (await conn.execute(query)).first()


async def record_key(
    conn: AsyncConnection,
    *,
    scope: str,
    key: str,
    request_hash: str,
    outcome: str,
    at: datetime,
    lead_id: str | None = None,
    quarantine_id: str | None = None,
) -> None:
    """Remember what a key answered (the caller holds the key's lock, so nobody recorded it meanwhile)."""
    values = {
        "scope": scope,
        "key": key,
        "request_hash": request_hash,
        "outcome": outcome,
        "lead_id": lead_id,
        "quarantine_id": quarantine_id,
        "created_at": at,
    }
    await conn.execute(insert(idempotency_keys).values(values))


def key_lock(scope: str, key: str) -> str:
    """The advisory lock name of a caller's key (the unit separator cannot occur in a header value)."""
    return f"lead-idempotency:{scope}\x1f{key}"


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


# Lock, then read under it, in one round trip: functions of migration 0004 (a volatile function's queries see
# what concurrent transactions committed before its lock was granted). Their SQL lives there.
_CAPTURE_CONTEXT = text(
    "SELECT CAST(duplicate_id AS text) AS duplicate_id, version, CAST(owner_id AS text) AS owner_id "
    "FROM lead.capture_context("
    "CAST(:keys AS text[]), CAST(:phone AS text), CAST(:email AS text), CAST(:channel AS text), "
    "CAST(:since AS timestamptz), CAST(:customer_id AS text))"
).bindparams(bindparam("keys", type_=ARRAY(Text)), bindparam("since", type_=DateTime(timezone=True)))


async def capture_context(
    conn: AsyncConnection,
    *,
    lock: Sequence[str],
    phone: str,
    email: str,
    channel: str,
    since: datetime,
    customer_id: str | None,
) -> Row[Any]:
    """One round trip before a new lead is written: the locks named `lock`, then (duplicate_id, version, owner_id).

    duplicate_id is the earliest lead with the same phone or email ('' = not compared) from the same channel since
    `since` (NULL: none), version the live rule version, owner_id the customer's account owner (NULL: none).
    """
    params = {
        "keys": sorted(lock),
        "phone": phone,
        "email": email,
        "channel": channel,
        "since": since,
        "customer_id": customer_id or "",
    }
    return (await conn.execute(_CAPTURE_CONTEXT, params)).one()


async def routing_context(
    conn: AsyncConnection, *, customer_id: str | None, exclude_lead: str, before: datetime | None = None
) -> Row[Any]:
    """(version, owner_id): the live rule version and the customer's account owner (as it stood at `before`, when
    given), in one round trip."""
    owner = _owner_of(customer_id, exclude_lead, before)
    query = select(_live_version().label("version"), owner.label("owner_id"))
    return (await conn.execute(query)).one()


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
        **_step_arrays(steps),
    }
    if decision is not None:
        values.update({f"d_{n}": decision.get(n, _DECISION_DEFAULTS.get(n)) for n in _DECISION_COLUMNS})
    if served is not None:
        values["served_team"], values["served_start"] = served
    if events is not None:
        values.update(events.params)
    query = _assign_lead_sql(hold_rep, decision is not None, served is not None, _riding(events))
    row = (await conn.execute(query, values)).first()
    if events is not None and row is not None:  # no row: the events were not written either
        events_written(conn, events)
    return row


# Routing state.


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


async def update_team(conn: AsyncConnection, *, team_id: str, **values: Any) -> Row[Any] | None:
    return (await conn.execute(update(teams).where(teams.c.id == team_id).values(**values).returning(teams))).first()


async def update_rep(conn: AsyncConnection, *, rep_id: str, **values: Any) -> Row[Any] | None:
    if not values:
        return (await conn.execute(select(reps).where(reps.c.id == rep_id))).first()
    return (await conn.execute(update(reps).where(reps.c.id == rep_id).values(**values).returning(reps))).first()


async def get_rep(conn: AsyncConnection, *, rep_id: str) -> Row[Any] | None:
    return (await conn.execute(select(reps).where(reps.c.id == rep_id))).first()


async def leads_since(conn: AsyncConnection, *, since: datetime, limit: int) -> list[Row[Any]]:
    query = select(leads).where(leads.c.captured_at >= since).order_by(leads.c.captured_at).limit(limit)
    return list((await conn.execute(query)).all())


# Quarantine and the public pool.


async def insert_quarantine(
    conn: AsyncConnection, *, data: dict, reasons: list[str], idempotency_key: str | None, at: datetime
) -> Row[Any]:
    query = insert(quarantine).values(
        id=str(uuid.uuid4()),
        input=data,
        reasons=reasons,
        status="held",
        idempotency_key=idempotency_key,
        received_at=at,
    )
    return (await conn.execute(query.returning(quarantine))).one()


async def get_quarantine(conn: AsyncConnection, *, quarantine_id: str, for_update: bool = False) -> Row[Any] | None:
    query = select(quarantine).where(quarantine.c.id == quarantine_id)
    return (await conn.execute(query.with_for_update() if for_update else query)).first()


async def list_quarantine(conn: AsyncConnection, *, held_only: bool) -> list[Row[Any]]:
    query = select(quarantine).order_by(quarantine.c.received_at.desc()).limit(500)
    if held_only:
        query = query.where(quarantine.c.status == "held")
    return list((await conn.execute(query)).all())


async def release_quarantine(conn: AsyncConnection, *, quarantine_id: str, lead_id: str) -> None:
    await conn.execute(
        update(quarantine).where(quarantine.c.id == quarantine_id).values(status="released", released_lead_id=lead_id)
    )


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


async def count_open(conn: AsyncConnection, *, rep_id: str) -> int:
    query = (
        select(func.count())
        .select_from(leads)
        .where(and_(leads.c.assignee_id == rep_id, leads.c.converted_at.is_(None), leads.c.status.in_(OPEN_STATUSES)))
    )
    return int((await conn.execute(query)).scalar_one())


async def add_timeline(conn: AsyncConnection, *, lead_id: str, step: str, at: datetime, detail: str = "") -> None:
    await conn.execute(insert(timeline).values(lead_id=lead_id, step=step, at=at, detail=detail))


@functools.cache
def _timeline_if_lead_sql() -> Insert:
    """add_timeline_if_lead's statement, built once (it runs for every delivered notification)."""
    lead_id = bindparam("lead_id", type_=timeline.c.lead_id.type)
    values = select(
        lead_id,
        bindparam("step", type_=timeline.c.step.type),
        bindparam("at", type_=timeline.c.at.type),
        bindparam("detail", type_=timeline.c.detail.type),
    ).where(exists().where(leads.c.id == lead_id))
    return insert(timeline).from_select(["lead_id", "step", "at", "detail"], values)


async def add_timeline_if_lead(
    conn: AsyncConnection, *, lead_id: str, step: str, at: datetime, detail: str = ""
) -> None:
    """A timeline entry for a lead this service may not know (an event about another system's lead): one round
    trip, nothing written when the lead does not exist."""
    await conn.execute(_timeline_if_lead_sql(), {"lead_id": lead_id, "step": step, "at": at, "detail": detail})


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
        .where(leads.c.status == "new" if not unresolved else leads.c.id.is_not(None))
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


async def get_teams(conn: AsyncConnection, *, team_ids: list[str]) -> list[Row[Any]]:
    return list((await conn.execute(select(teams).where(teams.c.id.in_(team_ids)))).all())


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
