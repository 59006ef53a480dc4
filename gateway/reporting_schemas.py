"""Bodies of the reports the edge serves from the reporting service (the fixed REST contract)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class ReportOut(BaseModel):
    """Every report: when its figures were computed, and whether they are an older answer (over budget)."""

    as_of: datetime
    stale: bool = Field(description="true: the fresh answer took over the time budget; these are the last good figures")


class FunnelRow(BaseModel):
    group: dict[str, str | None]
    leads: int
    opportunities: int
    stages: dict[str, int] = Field(description="stage key → opportunities that ever reached it")
    won: int
    lost: int


class FunnelOut(ReportOut):
    rows: list[FunnelRow]


class StageActionCell(BaseModel):
    stage: str
    action: str
    opportunities: int
    missing: int
    missing_rate: float = Field(ge=0, le=1)


class StageActionsOut(ReportOut):
    cells: list[StageActionCell]


class StageActionOpportunity(BaseModel):
    opportunity_id: str
    owner_id: str | None
    team_id: str | None
    entered_at: datetime
    left_at: datetime | None


class StageActionOpportunitiesOut(ReportOut):
    opportunities: list[StageActionOpportunity]


class Percentiles(BaseModel):
    p50: float | None
    p90: float | None
    p99: float | None


class AssignmentHealthOut(ReportOut):
    captured: int
    assigned: int
    time_to_assignment: Percentiles = Field(description="seconds from capture to first assignment")
    claim_windows_lapsed: int
    unclaimed_over_2h: int
    pool_returns: int
    reassignments: int
    cross_region: int | None = Field(description="null: no event carries the lead's or the rep's region yet")
    double_assignments: int = Field(description="must be 0")


class DataHealthOut(ReportOut):
    entry_rate_24h: int
    completeness: dict[str, float | None]
    below_threshold_days: dict[str, int]
    duplicate_candidates: list[Any] | None = Field(description="null: not carried by the customer master's events")
    invalid_phone: int | None = Field(description="null: lead events do not carry the phone")
    untouched_30d: int


class KpiOut(ReportOut):
    new_leads_today: int
    opportunity_conversion_rate: float | None
    receivables_attainment: float | None = Field(description="null until a finance system is connected")


class DwellCell(BaseModel):
    stage: str
    sub_state: str
    stays: int = Field(description="stays in the sub-state that ended in the month")
    p50_hours: float
    p90_hours: float


class SubStateDwellOut(ReportOut):
    month: str
    cells: list[DwellCell]


class ExportRecordOut(BaseModel):
    id: str
    report: str
    format: str
    parameters: dict[str, Any]
    subject: str
    role: str
    client: str
    request_id: str
    rows: int
    exported_at: datetime


class ExportAuditOut(BaseModel):
    exports: list[ExportRecordOut]
