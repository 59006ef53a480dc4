"""Every query of reporting; functions take the caller's connection and keyword-only arguments."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, and_, cast, extract, func, literal, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from reporting.domain import DurationStats, LeadResponseReport, ReportFilter
from reporting.tables import SCHEMA
from reporting.tables import lead_response as lr

_PERCENTILES = literal([0.5, 0.9], ARRAY(Float))


# One upsert per event, as plain SQL: SQLAlchemy does not cache the compiled form of an INSERT .. ON CONFLICT,
# and these run for every lead event.
_UPSERT = f"INSERT INTO {SCHEMA}.{lr.name} AS lr ({{columns}}) VALUES ({{values}}) ON CONFLICT (lead_id) DO UPDATE SET "
_RECORD_CAPTURED = text(
    _UPSERT.format(columns="lead_id, channel, captured_at", values=":lead_id, :channel, :captured_at")
    # The capture event is the authority on when and through which channel.
    + "channel = coalesce(excluded.channel, lr.channel), captured_at = excluded.captured_at, updated_at = now()"
)
_RECORD_ASSIGNED = text(
    _UPSERT.format(
        columns="lead_id, channel, captured_at, assigned_at", values=":lead_id, :channel, :captured_at, :assigned_at"
    )
    # LEAST ignores NULLs, so the first assignment wins whichever event arrives first.
    + "channel = coalesce(lr.channel, excluded.channel), captured_at = coalesce(lr.captured_at, excluded.captured_at),"
    " assigned_at = least(lr.assigned_at, excluded.assigned_at), updated_at = now()"
)
_RECORD_FIRST_CONTACT = text(
    _UPSERT.format(
        columns="lead_id, captured_at, first_contact_at", values=":lead_id, :captured_at, :first_contact_at"
    )
    + "captured_at = coalesce(lr.captured_at, excluded.captured_at),"
    " first_contact_at = least(lr.first_contact_at, excluded.first_contact_at), updated_at = now()"
)


async def record_captured(conn: AsyncConnection, *, lead_id: str, channel: str | None, captured_at: datetime) -> None:
    """Project a capture: the capture event is the authority on when and through which channel."""
    await conn.execute(_RECORD_CAPTURED, {"lead_id": lead_id, "channel": channel, "captured_at": captured_at})


async def record_assigned(
    conn: AsyncConnection, *, lead_id: str, channel: str | None, captured_at: datetime | None, assigned_at: datetime
) -> None:
    """Project an assignment: its time (the earliest if told twice), and capture facts still missing."""
    await conn.execute(
        _RECORD_ASSIGNED,
        {"lead_id": lead_id, "channel": channel, "captured_at": captured_at, "assigned_at": assigned_at},
    )


async def record_first_contact(
    conn: AsyncConnection, *, lead_id: str, captured_at: datetime | None, first_contact_at: datetime
) -> None:
    """Project a first contact: its time (the earliest if told twice), and the capture time if still missing."""
    await conn.execute(
        _RECORD_FIRST_CONTACT, {"lead_id": lead_id, "captured_at": captured_at, "first_contact_at": first_contact_at}
    )


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
