"""gRPC handlers of crm.lead.v1.LeadService: each room's handlers in one servicer, access checked per RPC."""

from __future__ import annotations

from typing import Any

import grpc

from crm.lead.v1 import lead_pb2, lead_pb2_grpc
from crm_common.errors import NotFound
from lead import access, records
from lead.capture.handlers import CaptureHandlers
from lead.ownership.handlers import OwnershipHandlers
from lead.routing.handlers import RoutingHandlers
from lead.staff.handlers import StaffHandlers


@access.guarded
class LeadServicer(
    CaptureHandlers, OwnershipHandlers, RoutingHandlers, StaffHandlers, lead_pb2_grpc.LeadServiceServicer
):
    """The lead service's gRPC API: reading a lead here, everything else in the room it belongs to."""

    async def GetLead(self, request: lead_pb2.GetLeadRequest, context: grpc.aio.ServicerContext) -> Any:
        return lead_pb2.GetLeadResponse(lead=await access.shown(self.runtime, await self._load(request.lead_id)))

    async def GetLeadTraceContext(
        self, request: lead_pb2.GetLeadTraceContextRequest, context: grpc.aio.ServicerContext
    ) -> Any:
        canonical = records.parse_id(request.lead_id)
        async with self.runtime.db.read() as conn:
            row = await records.get_lead(conn, lead_id=canonical) if canonical else None
        if row is None:
            raise NotFound(f"lead {request.lead_id} not found")
        return lead_pb2.GetLeadTraceContextResponse(traceparent=row.traceparent)
