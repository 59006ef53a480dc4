"""Timestamps and report figures to and from protobuf."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp

from crm.reporting.v1 import reporting_pb2
from reporting.domain import DurationStats, LeadResponseReport


def to_timestamp(value: datetime) -> Timestamp:
    """A protobuf Timestamp of an aware datetime."""
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


def from_timestamp(stamp: Timestamp) -> datetime | None:
    """An aware UTC datetime of a Timestamp field; None when it is unset."""
    if stamp.seconds == 0 and stamp.nanos == 0:
        return None
    return stamp.ToDatetime(tzinfo=UTC)


def stats_message(stats: DurationStats) -> reporting_pb2.DurationStats:
    """The DurationStats message of computed figures."""
    return reporting_pb2.DurationStats(count=stats.count, p50_seconds=stats.p50_seconds, p90_seconds=stats.p90_seconds)


def report_message(report: LeadResponseReport) -> reporting_pb2.GetLeadResponseReportResponse:
    """The response message of a lead response report."""
    return reporting_pb2.GetLeadResponseReportResponse(
        leads_captured=report.leads_captured,
        time_to_assignment=stats_message(report.time_to_assignment),
        time_to_first_contact=stats_message(report.time_to_first_contact),
        computed_at=to_timestamp(report.computed_at),
    )
