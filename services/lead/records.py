"""The lead row and its timeline: the queries and statement pieces every room shares (keyword-only)."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    DateTime,
    Insert,
    Row,
    Table,
    Text,
    bindparam,
    exists,
    insert,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection

from crm_common.bus.outbox import RidingEvents, events_cte, events_cte_params
from lead.tables import (
    leads,
    timeline,
)


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


async def lock_key(conn: AsyncConnection, *, key: str) -> None:
    """A transaction-scoped lock on a name, shared by every replica."""
    await conn.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": key})


# Statements run on every capture, parsed once.
_LOCK_KEYS = text("SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) FROM unnest(CAST(:keys AS text[])) AS k")


async def lock_keys(conn: AsyncConnection, *, keys: list[str]) -> None:
    """Several such locks in one round trip, always in the same order (no deadlock between two callers)."""
    if keys:
        await conn.execute(_LOCK_KEYS, {"keys": sorted(keys)})


# Statements with data-modifying CTEs, as SQL text: SQLAlchemy cannot cache the compiled form of the
# equivalent Core constructs and would compile them on every capture. One text per shape, built once.
STEP_ROWS = "unnest(:steps, :step_ats, :step_details) AS s(step, at, detail)"


STEP_PARAMS = (
    bindparam("steps", type_=ARRAY(Text)),
    bindparam("step_ats", type_=ARRAY(DateTime(timezone=True))),
    bindparam("step_details", type_=ARRAY(Text)),
)


LEAD_COLUMNS = ", ".join(c.name for c in leads.c)


def step_arrays(steps: Sequence[Step]) -> dict[str, list[Any]]:
    return {
        "steps": [s.step for s in steps],
        "step_ats": [s.at for s in steps],
        "step_details": [s.detail for s in steps],
    }


NO_EVENTS: tuple[Table | None, bool] = (None, False)


def riding_shape(riding: RidingEvents | None) -> tuple[Table | None, bool]:
    """(outbox, NOTIFY wanted) of events riding on a statement: the shape of its events CTE."""
    return NO_EVENTS if riding is None else (riding.outbox, riding.notify)


def events_part(riding: tuple[Table | None, bool], when: str) -> tuple[list[str], tuple[Any, ...]]:
    """The events CTE (written only when the CTE `when` produced a row) and its bindparams, if events ride."""
    outbox, notify = riding
    if outbox is None:
        return [], ()
    return [events_cte(outbox, notify=notify, when=when)], events_cte_params(notify=notify)


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
