"""gRPC PipelineService: reads of opportunities."""

from __future__ import annotations

import uuid

import grpc

from crm.pipeline.v1 import pipeline_pb2, pipeline_pb2_grpc
from crm_common.errors import NotFound
from crm_common.service import Runtime
from pipeline import access, repository
from pipeline.convert import opportunity_message


@access.guarded
class PipelineServicer(pipeline_pb2_grpc.PipelineServiceServicer):
    """crm.pipeline.v1.PipelineService."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def GetOpportunity(
        self, request: pipeline_pb2.GetOpportunityRequest, context: grpc.aio.ServicerContext
    ) -> pipeline_pb2.GetOpportunityResponse:
        try:
            opportunity_id = uuid.UUID(request.opportunity_id)
        except ValueError:
            raise NotFound(f"opportunity {request.opportunity_id!r} not found") from None
        async with self.runtime.db.connect() as conn:
            row = await repository.get_opportunity(conn, opportunity_id=opportunity_id)
        if row is None:
            raise NotFound(f"opportunity {request.opportunity_id!r} not found")
        return pipeline_pb2.GetOpportunityResponse(opportunity=access.one(opportunity_message(row)))

    async def ListOpportunities(
        self, request: pipeline_pb2.ListOpportunitiesRequest, context: grpc.aio.ServicerContext
    ) -> pipeline_pb2.ListOpportunitiesResponse:
        async with self.runtime.db.connect() as conn:
            rows = await repository.list_opportunities(conn, lead_id=request.lead_id or None)
        return pipeline_pb2.ListOpportunitiesResponse(opportunities=access.visible([opportunity_message(r) for r in rows]))
