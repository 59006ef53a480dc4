"""Reports, answered by the reporting service from its projections; exports and their audit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import StreamingResponse
from google.protobuf.json_format import MessageToDict

from crm.reporting.v1 import reporting_pb2
from crm_common.access import Action, Resource
from gateway import convert, schemas
from gateway import reporting_schemas as rs
from gateway.api.deps import (
    ReportingClientDep,
    ReportReadDep,
    permit,
)
from gateway.core.errors import FieldError, Problem
from gateway.core.peers import CALL_DEADLINE_SECONDS
from gateway.core.security import Caller

router = APIRouter(tags=["reports"])
SalesReportDep = Annotated[Caller, Depends(permit(Resource.SALES_REPORT, Action.READ))]
ExportDep = Annotated[Caller, Depends(permit(Resource.REPORT_EXPORT, Action.CREATE))]
ExportAuditDep = Annotated[Caller, Depends(permit(Resource.REPORT_EXPORT, Action.READ))]

From = Annotated[date | None, Query(alias="from", description="first day (report time zone); default: this month")]
To = Annotated[date | None, Query(description="last day, included")]
Day = Annotated[date | None, Query(alias="date", description="the day (report time zone); default today")]
Pipeline = Annotated[str, Query(max_length=200, description="one pipeline's key; empty: all")]
Key = Annotated[str, Path(max_length=200, pattern=r"^[A-Za-z0-9_.:-]+$")]
# An export deadline: rows stream for as long as they take, not a report's few seconds.
EXPORT_DEADLINE_SECONDS = 3600.0


@router.get("/v1/reports/lead-response", response_model=schemas.LeadResponseReportOut)
async def lead_response_report(
    _caller: ReportReadDep,
    reporting_client: ReportingClientDep,
    captured_from: Annotated[schemas.Instant | None, Query(description="RFC 3339; leads captured at or after")] = None,
    captured_to: Annotated[schemas.Instant | None, Query(description="RFC 3339; leads captured before")] = None,
    channel: Annotated[str | None, Query(max_length=200, description="Only leads from this source channel")] = None,
) -> schemas.LeadResponseReportOut:
    """Time to assignment and time to first contact of the leads captured in a window."""
    request = reporting_pb2.GetLeadResponseReportRequest(channel=(channel or "").strip())
    if captured_from is not None:
        request.captured_from.CopyFrom(convert.timestamp(captured_from))
    if captured_to is not None:
        request.captured_to.CopyFrom(convert.timestamp(captured_to))
    if captured_from and captured_to and request.captured_from.ToDatetime() > request.captured_to.ToDatetime():
        raise Problem(422, "captured_to is before captured_from",
                      errors=[FieldError("captured_to", "must not be before captured_from")])
    reply = await reporting_client.GetLeadResponseReport(request, timeout=CALL_DEADLINE_SECONDS)
    return convert.lead_response_report(reply)


def _parameters(**given: Any) -> dict[str, str]:
    return {name.rstrip("_"): str(value) for name, value in given.items() if value not in (None, "")}


async def _report(client: ReportingClientDep, report: str, parameters: dict[str, str]) -> dict[str, Any]:
    reply = await client.GetReport(reporting_pb2.GetReportRequest(report=report, parameters=parameters),
                                   timeout=CALL_DEADLINE_SECONDS)
    return {"as_of": reply.as_of.ToDatetime(tzinfo=UTC), "stale": reply.stale} | MessageToDict(reply.body)


@router.get("/v1/reports/funnel", response_model=rs.FunnelOut)
async def funnel(
    _caller: SalesReportDep, client: ReportingClientDep, from_: From = None, to: To = None,
    group_by: Annotated[str, Query(max_length=200, description="comma-separated: region, province, industry, size, "
                                   "team, rep, channel, campaign")] = "",
) -> dict[str, Any]:
    """Leads → opportunities → each stage reached → won/lost, per group, for leads captured in the range."""
    return await _report(client, "funnel", _parameters(from_=from_, to=to, group_by=group_by))


@router.get("/v1/reports/stage-actions", response_model=rs.StageActionsOut)
async def stage_actions(_caller: SalesReportDep, client: ReportingClientDep, pipeline: Pipeline = "") -> dict[str, Any]:
    """Per stage and required action: opportunities that are or were in the stage, and how many lack the action."""
    return await _report(client, "stage-actions", _parameters(pipeline=pipeline))


@router.get("/v1/reports/stage-actions/{stage}/{action}", response_model=rs.StageActionOpportunitiesOut)
async def stage_action_opportunities(
    _caller: SalesReportDep, client: ReportingClientDep, stage: Key, action: Key, pipeline: Pipeline = ""
) -> dict[str, Any]:
    """The opportunities behind one cell's missing count."""
    return await _report(client, "stage-action-opportunities",
                         _parameters(pipeline=pipeline, stage=stage, action=action))


@router.get("/v1/reports/assignment-health", response_model=rs.AssignmentHealthOut)
async def assignment_health(_caller: SalesReportDep, client: ReportingClientDep, day: Day = None) -> dict[str, Any]:
    """How the day's captured leads were assigned and claimed."""
    return await _report(client, "assignment-health", _parameters(date=day))


@router.get("/v1/reports/data-health", response_model=rs.DataHealthOut)
async def data_health(_caller: SalesReportDep, client: ReportingClientDep, day: Day = None) -> dict[str, Any]:
    """Entry rate, completeness of the required fields, untouched leads."""
    return await _report(client, "data-health", _parameters(date=day))


@router.get("/v1/reports/kpi", response_model=rs.KpiOut)
async def kpi(_caller: SalesReportDep, client: ReportingClientDep) -> dict[str, Any]:
    """The KPI card: new leads today, opportunity conversion this month, receivables attainment."""
    return await _report(client, "kpi", {})


Month = Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$", description="YYYY-MM; default this month")]


@router.get("/v1/reports/sub-state-dwell", response_model=rs.SubStateDwellOut)
async def sub_state_dwell(
    _caller: SalesReportDep, client: ReportingClientDep, pipeline: Pipeline = "", month: Month = None
) -> dict[str, Any]:
    """Per stage and sub-state, p50/p90 hours of the stays that ended in the month."""
    return await _report(client, "sub-state-dwell", _parameters(pipeline=pipeline, month=month))


_EXPORTABLE = {"funnel", "stage-actions", "assignment-health", "data-health", "kpi", "sub-state-dwell"}
_MEDIA = {"csv": "text/csv; charset=utf-8",
          "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


async def _export(
    request: Request, caller: Caller, client: ReportingClientDep, report: str, parameters: dict[str, str], fmt: str
) -> StreamingResponse:
    call = client.ExportReport(reporting_pb2.ExportReportRequest(
        report=report, parameters=parameters, format=fmt, caller_name=caller.name or "",
        client=request.headers.get("user-agent", request.client.host if request.client else ""),
        request_id=request.headers.get("x-request-id", ""),
    ), timeout=EXPORT_DEADLINE_SECONDS)
    chunks = call.__aiter__()
    # The first chunk before the response starts: a refusal or bad input is still a problem+json answer.
    first = await anext(chunks, None)

    async def body() -> AsyncIterator[bytes]:
        if first is not None:
            yield first.data
        async for chunk in chunks:
            yield chunk.data

    name = f"{report}.{fmt}"
    return StreamingResponse(body(), media_type=_MEDIA[fmt],
                             headers={"Content-Disposition": f'attachment; filename="{name}"'})


Format = Annotated[Literal["csv", "xlsx"], Query(alias="format")]


@router.get("/v1/reports/{name}/export", response_class=StreamingResponse,
            responses={200: {"content": {m: {} for m in _MEDIA.values()}}})
async def export_report(
    request: Request, caller: ExportDep, client: ReportingClientDep, name: Key, fmt: Format = "csv",
    from_: From = None, to: To = None, group_by: Annotated[str, Query(max_length=200)] = "",
    pipeline: Pipeline = "", day: Day = None, month: Month = None,
) -> StreamingResponse:
    """A report as CSV or XLSX (same parameters as the report), watermarked, recorded in the export audit."""
    if name not in _EXPORTABLE:
        raise Problem(404, f"no report named {name!r} to export")
    given = _parameters(from_=from_, to=to, group_by=group_by, pipeline=pipeline, date=day, month=month)
    return await _export(request, caller, client, name, given, fmt)


@router.get("/v1/reports/stage-actions/{stage}/{action}/export", response_class=StreamingResponse,
            responses={200: {"content": {m: {} for m in _MEDIA.values()}}})
async def export_stage_action_opportunities(
    request: Request, caller: ExportDep, client: ReportingClientDep, stage: Key, action: Key,
    fmt: Format = "csv", pipeline: Pipeline = "",
) -> StreamingResponse:
    """Every opportunity behind one heatmap cell, streamed (any number of rows), watermarked and audited."""
    return await _export(request, caller, client, "stage-action-opportunities",
                         _parameters(pipeline=pipeline, stage=stage, action=action), fmt)


@router.get("/v1/audit/exports", response_model=rs.ExportAuditOut, tags=["audit"])
async def export_audit(
    _caller: ExportAuditDep, client: ReportingClientDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Who exported which report, when, from where; newest first."""
    reply = await client.ListExports(reporting_pb2.ListExportsRequest(limit=limit), timeout=CALL_DEADLINE_SECONDS)
    return {"exports": [MessageToDict(e, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)
                        for e in reply.exports]}
