"""gRPC ReportingService: reports answered from the projections."""

from __future__ import annotations

from collections.abc import AsyncIterator
from zoneinfo import ZoneInfo

import grpc
from google.protobuf.json_format import ParseDict
from google.protobuf.struct_pb2 import Struct

from crm.reporting.v1 import reporting_pb2, reporting_pb2_grpc
from crm_common.access import Action, Resource, caller, require
from crm_common.errors import FieldViolation, InvalidArgument
from crm_common.service import Runtime
from reporting import access, repository
from reporting.convert import from_timestamp, report_message, to_timestamp
from reporting.domain import ReportFilter, validate_filter
from reporting.exports import repository as exports_repo
from reporting.exports import service as exports
from reporting.reports import domain as reports
from reporting.reports.runner import Answer, answer
from reporting.settings import ReportingSettings


def _struct(value: dict) -> Struct:
    return ParseDict(value, Struct())


@access.guarded
class ReportingServicer(reporting_pb2_grpc.ReportingServiceServicer):
    """crm.reporting.v1.ReportingService."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.settings: ReportingSettings = runtime.settings  # type: ignore[assignment]

    async def GetLeadResponseReport(
        self, request: reporting_pb2.GetLeadResponseReportRequest, context: grpc.aio.ServicerContext
    ) -> reporting_pb2.GetLeadResponseReportResponse:
        report_filter = ReportFilter(
            captured_from=from_timestamp(request.captured_from) if request.HasField("captured_from") else None,
            captured_to=from_timestamp(request.captured_to) if request.HasField("captured_to") else None,
            channel=request.channel or None,
        )
        violations = validate_filter(report_filter)
        if violations:
            raise InvalidArgument(violations)
        async with self.runtime.db.connect() as conn:
            report = await repository.lead_response_report(conn, report_filter=report_filter)
        return report_message(report)

    def _question(self, report: str, parameters: dict[str, str]) -> reports.Question:
        reports.validate(report, parameters)
        question = reports.Question(
            report=report,
            parameters=parameters,
            visibility=reports.visibility_of(caller().acting_for),
            zone=ZoneInfo(self.settings.report_time_zone),
        )
        if report == "funnel":  # parameters checked before any query, so bad input is never a timeout
            reports.date_range(question)
            reports.group_by(parameters)
        elif report in ("assignment-health", "data-health"):
            reports.day_of(question)
        elif report == "sub-state-dwell":
            reports.month_of(parameters, question.today())
        return question

    async def _answer(self, question: reports.Question) -> Answer:
        return await answer(
            self.runtime.db,
            question,
            budget_ms=self.settings.report_statement_timeout_ms,
            retry_after_seconds=self.settings.report_retry_after_seconds,
        )

    async def GetReport(
        self, request: reporting_pb2.GetReportRequest, context: grpc.aio.ServicerContext
    ) -> reporting_pb2.GetReportResponse:
        got = await self._answer(self._question(request.report, dict(request.parameters)))
        return reporting_pb2.GetReportResponse(as_of=to_timestamp(got.as_of), stale=got.stale, body=_struct(got.body))

    async def ExportReport(
        self, request: reporting_pb2.ExportReportRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[reporting_pb2.ExportReportResponse]:
        require(caller(), Resource.REPORT_EXPORT, Action.CREATE)
        fmt = exports.check_format(request.format)
        question = self._question(request.report, dict(request.parameters))
        got = None if question.report == "stage-action-opportunities" else await self._answer(question)
        async for chunk in exports.export(
            self.runtime.db,
            question,
            fmt=fmt,
            principal=caller().acting_for,
            caller_name=request.caller_name,
            client=request.client,
            request_id=request.request_id,
            answer=got,
        ):
            yield reporting_pb2.ExportReportResponse(data=chunk)

    async def ListExports(
        self, request: reporting_pb2.ListExportsRequest, context: grpc.aio.ServicerContext
    ) -> reporting_pb2.ListExportsResponse:
        if request.limit < 0 or request.limit > 1000:
            raise InvalidArgument([FieldViolation("limit", "must be between 0 and 1000 (0: 100)")])
        async with self.runtime.db.connect() as conn:
            rows = await exports_repo.list_exports(conn, limit=request.limit or 100)
        return reporting_pb2.ListExportsResponse(
            exports=[
                reporting_pb2.ExportRecord(
                    id=str(r["id"]),
                    report=r["report"],
                    format=r["format"],
                    parameters=_struct(r["parameters"]),
                    subject=r["subject"],
                    role=r["role"],
                    client=r["client"],
                    request_id=r["request_id"],
                    rows=r["rows"] or 0,
                    exported_at=to_timestamp(r["exported_at"]),
                )
                for r in rows
            ]
        )
