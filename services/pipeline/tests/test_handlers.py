"""PipelineService through an in-process gRPC server."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import grpc
import pytest

from crm.pipeline.v1 import pipeline_pb2, pipeline_pb2_grpc
from crm_common.service import Runtime
from pipeline import repository


async def _open(runtime: Runtime, lead_id: str) -> str:
    async with runtime.db.transaction() as conn:
        row = await repository.open_opportunity(
            conn, lead_id=lead_id, customer_id="c", owner_id="o", stage="qualification", opened_at=datetime.now(UTC)
        )
    assert row is not None
    return str(row.id)


async def test_get_and_list_by_lead(runtime: Runtime, stub: pipeline_pb2_grpc.PipelineServiceStub) -> None:
    lead_id, other = str(uuid.uuid4()), str(uuid.uuid4())
    opportunity_id = await _open(runtime, lead_id)
    await _open(runtime, other)

    got = await stub.GetOpportunity(pipeline_pb2.GetOpportunityRequest(opportunity_id=opportunity_id), timeout=5)
    assert (got.opportunity.id, got.opportunity.lead_id, got.opportunity.stage) == (
        opportunity_id,
        lead_id,
        "qualification",
    )
    assert got.opportunity.opened_at.seconds > 0

    listed = await stub.ListOpportunities(pipeline_pb2.ListOpportunitiesRequest(lead_id=lead_id), timeout=5)
    assert [o.id for o in listed.opportunities] == [opportunity_id]

    everything = await stub.ListOpportunities(pipeline_pb2.ListOpportunitiesRequest(), timeout=5)
    assert {opportunity_id, got.opportunity.id} <= {o.id for o in everything.opportunities}
    assert len(everything.opportunities) >= 2

    none = await stub.ListOpportunities(pipeline_pb2.ListOpportunitiesRequest(lead_id="no-such-lead"), timeout=5)
    assert list(none.opportunities) == []


@pytest.mark.parametrize("opportunity_id", ["", "garbage", str(uuid.uuid4())])
async def test_get_unknown_or_malformed_opportunity_is_not_found(
    stub: pipeline_pb2_grpc.PipelineServiceStub, opportunity_id: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.GetOpportunity(pipeline_pb2.GetOpportunityRequest(opportunity_id=opportunity_id), timeout=5)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
