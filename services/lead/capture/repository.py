"""Queries of capture: new leads, repeats (touches), idempotency keys, the locked duplicate read, quarantine."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    Row,
    Table,
    Text,
    TextClause,
    and_,
    bindparam,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection

from crm_common.bus.outbox import RidingEvents, events_written
from lead.domain import CleanLead
from lead.records import LEAD_COLUMNS, NO_EVENTS, STEP_PARAMS, STEP_ROWS, Step, events_part, riding_shape, step_arrays
from lead.tables import (
    idempotency_keys,
    leads,
    quarantine,
    touches,
)


@functools.cache
def _insert_lead_with_steps(names: frozenset[str], riding: tuple[Table | None, bool] = NO_EVENTS) -> TextClause:
    columns = sorted(names)
    events, event_params = events_part(riding, "new_lead")
    sql = f"""
        WITH new_lead AS (
            INSERT INTO lead.leads ({", ".join(columns)}) VALUES ({", ".join(f":{c}" for c in columns)})
            RETURNING {LEAD_COLUMNS}
        ), new_steps AS (
            INSERT INTO lead.lead_timeline (lead_id, step, at, detail)
            SELECT new_lead.id, s.step, s.at, s.detail FROM new_lead, {STEP_ROWS}
        ){"".join(", " + e for e in events)}
        SELECT * FROM new_lead
    """
    params = [bindparam(c, type_=leads.c[c].type) for c in columns]
    return text(sql).bindparams(*params, *STEP_PARAMS, *event_params).columns(*leads.c)


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
    query = _insert_lead_with_steps(frozenset(values), riding_shape(events))
    params = {**values, **step_arrays(steps), **(events.params if events else {})}
    row = (await conn.execute(query, params)).first()
    if events is not None and row is not None:  # no row: the events were not written either
        events_written(conn, events)
    return row


async def set_customer(conn: AsyncConnection, *, lead_id: str, customer_id: str) -> None:
    await conn.execute(update(leads).where(leads.c.id == lead_id).values(customer_id=customer_id))


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


# Lock, then read under it, in one round trip: a volatile function's queries see what concurrent transactions
# committed before its lock was granted. Its SQL: lead/sql/capture_context_v1.sql (created by migration 0004).
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
