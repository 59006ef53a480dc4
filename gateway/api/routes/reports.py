"""Reports, answered by the reporting service from its projections."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from crm.reporting.v1 import reporting_pb2
from gateway import convert, schemas
from gateway.api.deps import (
    ReportingClientDep,
    ReportReadDep,
)
from gateway.core.errors import FieldError, Problem
from gateway.core.peers import CALL_DEADLINE_SECONDS

router = APIRouter(prefix="/v1/reports", tags=["reports"])


@router.get("/lead-response", response_model=schemas.LeadResponseReportOut)
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
