"""gRPC ReportingService: reports answered from the projections."""

from __future__ import annotations

import grpc

from crm.reporting.v1 import reporting_pb2, reporting_pb2_grpc
from crm_common.errors import InvalidArgument
from crm_common.service import Runtime
from reporting import access, repository
from reporting.convert import from_timestamp, report_message
from reporting.domain import ReportFilter, validate_filter


@access.guarded
class ReportingServicer(reporting_pb2_grpc.ReportingServiceServicer):
    """crm.reporting.v1.ReportingService."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

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
