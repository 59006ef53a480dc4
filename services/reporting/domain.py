"""The lead response report's shape and the rules on its inputs, without a database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from crm_common.errors import FieldViolation


@dataclass(frozen=True)
class DurationStats:
    """How many durations were measured, and their median and 90th percentile in seconds."""

    count: int
    p50_seconds: float
    p90_seconds: float


@dataclass(frozen=True)
class LeadResponseReport:
    """How quickly captured leads were assigned and first contacted."""

    leads_captured: int
    time_to_assignment: DurationStats
    time_to_first_contact: DurationStats
    computed_at: datetime


@dataclass(frozen=True)
class ReportFilter:
    """Which leads a report covers: captured in [captured_from, captured_to), in one channel or all."""

    captured_from: datetime | None = None
    captured_to: datetime | None = None
    channel: str | None = None


def validate_filter(report_filter: ReportFilter) -> list[FieldViolation]:
    """Violations of a report filter: the window must not end before it starts."""
    start, end = report_filter.captured_from, report_filter.captured_to
    if start is not None and end is not None and end < start:
        return [FieldViolation("captured_to", "must not be before captured_from")]
    return []
