"""Every query of reporting; functions take the caller's connection and keyword-only arguments."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Float, TextClause, and_, cast, extract, func, literal, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from reporting.domain import DurationStats, LeadResponseReport, ReportFilter
from reporting.tables import SCHEMA
from reporting.tables import lead_response as lr

_PERCENTILES = literal([0.5, 0.9], ARRAY(Float))


class Captured(NamedTuple):
    """What a capture event tells the projection."""

    lead_id: str
    channel: str | None
    captured_at: datetime


class Assigned(NamedTuple):
    """What an assignment event tells the projection."""

    lead_id: str
    channel: str | None
    captured_at: datetime | None
    assigned_at: datetime


class FirstContact(NamedTuple):
    """What a first contact event tells the projection."""

    lead_id: str
    captured_at: datetime | None
    first_contact_at: datetime


# The upserts, as plain SQL: SQLAlchemy does not cache the compiled form of an INSERT .. ON CONFLICT, and these run
# for every lead event. Each exists for one event (VALUES) and for many (unnest of one array per column, in order).
_COLUMN_TYPES = {"lead_id": "text", "channel": "text"}
_SETS = {
    # The capture event is the authority on when and through which channel.
    Captured: "channel = coalesce(excluded.channel, lr.channel), captured_at = excluded.captured_at,"
    " updated_at = now()",
    # LEAST ignores NULLs, so the first assignment wins whichever event arrives first.
    Assigned: "channel = coalesce(lr.channel, excluded.channel),"
    " captured_at = coalesce(lr.captured_at, excluded.captured_at),"
    " assigned_at = least(lr.assigned_at, excluded.assigned_at), updated_at = now()",
    FirstContact: "captured_at = coalesce(lr.captured_at, excluded.captured_at),"
    " first_contact_at = least(lr.first_contact_at, excluded.first_contact_at), updated_at = now()",
}


def _upsert(fields: tuple[str, ...], rows: str, set_clause: str) -> TextClause:
    return text(
        f"INSERT INTO {SCHEMA}.{lr.name} AS lr ({', '.join(fields)}) {rows} "
        f"ON CONFLICT (lead_id) DO UPDATE SET {set_clause}"
    )


_ONE = {
    facts: _upsert(facts._fields, f"VALUES ({', '.join(':' + f for f in facts._fields)})", set_clause)
    for facts, set_clause in _SETS.items()
}
# Rows in the arrays' order (the batch's, by lead), so concurrent batches lock their rows in one order.
_MANY = {
    facts: _upsert(
        facts._fields,
        f"SELECT {', '.join(facts._fields)} FROM unnest("
        + ", ".join(f"CAST(:{f} AS {_COLUMN_TYPES.get(f, 'timestamptz')}[])" for f in facts._fields)
        + f") WITH ORDINALITY AS batch({', '.join(facts._fields)}, position) ORDER BY position",
        set_clause,
    )
    for facts, set_clause in _SETS.items()
}


async def record_captured(conn: AsyncConnection, *, lead_id: str, channel: str | None, captured_at: datetime) -> None:
    """Project a capture: the capture event is the authority on when and through which channel."""
    await conn.execute(_ONE[Captured], {"lead_id": lead_id, "channel": channel, "captured_at": captured_at})


async def record_assigned(
    conn: AsyncConnection, *, lead_id: str, channel: str | None, captured_at: datetime | None, assigned_at: datetime
) -> None:
    """Project an assignment: its time (the earliest if told twice), and capture facts still missing."""
    await conn.execute(
        _ONE[Assigned],
        {"lead_id": lead_id, "channel": channel, "captured_at": captured_at, "assigned_at": assigned_at},
    )


async def record_first_contact(
    conn: AsyncConnection, *, lead_id: str, captured_at: datetime | None, first_contact_at: datetime
) -> None:
    """Project a first contact: its time (the earliest if told twice), and the capture time if still missing."""
    await conn.execute(
        _ONE[FirstContact], {"lead_id": lead_id, "captured_at": captured_at, "first_contact_at": first_contact_at}
    )


async def record_many(
    conn: AsyncConnection, *, rows: Sequence[Captured] | Sequence[Assigned] | Sequence[FirstContact]
) -> None:
    """Project many events of one kind as if one by one in their order, in one statement per repeat of a lead.

    ON CONFLICT DO UPDATE cannot change a row twice in one statement: a lead's second event of the batch goes
    into the next statement, and so on, so each lead's events still apply in their order.
    """
    rounds: list[list[Captured | Assigned | FirstContact]] = []
    seen: dict[str, int] = {}
    for row in rows:
        repeat = seen.get(row.lead_id, 0)
        seen[row.lead_id] = repeat + 1
        if repeat == len(rounds):
            rounds.append([])
        rounds[repeat].append(row)
    for batch in rounds:
        facts = type(batch[0])
        await conn.execute(_MANY[facts], {field: [getattr(row, field) for row in batch] for field in facts._fields})


async def get_lead_response(conn: AsyncConnection, *, lead_id: str) -> Row | None:
    """One lead's projected row."""
    return (await conn.execute(select(lr).where(lr.c.lead_id == lead_id))).first()


def _seconds_since_capture(column: ColumnElement) -> ColumnElement:
    """Seconds from capture to a later moment; NULL (so ignored by the aggregates) while that moment is unknown."""
    return cast(extract("epoch", column - lr.c.captured_at), Float)


def _stats(count: int | None, percentiles: list[float] | None) -> DurationStats:
    p50, p90 = percentiles or (0.0, 0.0)
    return DurationStats(count=int(count or 0), p50_seconds=float(p50 or 0.0), p90_seconds=float(p90 or 0.0))


async def lead_response_report(conn: AsyncConnection, *, report_filter: ReportFilter) -> LeadResponseReport:
    """Count and percentiles of time to assignment and to first contact, over leads captured in the filter."""
    to_assignment = _seconds_since_capture(lr.c.assigned_at)
    to_contact = _seconds_since_capture(lr.c.first_contact_at)
    conditions = [lr.c.captured_at.is_not(None)]
    if report_filter.captured_from is not None:
        conditions.append(lr.c.captured_at >= report_filter.captured_from)
    if report_filter.captured_to is not None:
        conditions.append(lr.c.captured_at < report_filter.captured_to)
    if report_filter.channel:
        conditions.append(lr.c.channel == report_filter.channel)
    row = (
        await conn.execute(
            select(
                func.count().label("leads_captured"),
                func.count(to_assignment).label("assigned"),
                func.percentile_cont(_PERCENTILES).within_group(to_assignment).label("assignment_percentiles"),
                func.count(to_contact).label("contacted"),
                func.percentile_cont(_PERCENTILES).within_group(to_contact).label("contact_percentiles"),
                func.now().label("computed_at"),
            ).where(and_(*conditions))
        )
    ).one()
    return LeadResponseReport(
        leads_captured=int(row.leads_captured),
        time_to_assignment=_stats(row.assigned, row.assignment_percentiles),
        time_to_first_contact=_stats(row.contacted, row.contact_percentiles),
        computed_at=row.computed_at,
    )
