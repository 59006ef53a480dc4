"""A rep sees its own opportunities only; the role check runs in the service, not only at the edge."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from crm.pipeline.v1 import pipeline_pb2
from crm_common.errors import NotFound
from crm_common.identity import Principal, Role, acting_as
from crm_common.service import Runtime
from pipeline import repository
from pipeline.handlers import PipelineServicer


async def test_a_rep_reads_its_opportunities_and_not_another_reps(runtime: Runtime) -> None:
    lead_id = str(uuid.uuid4())
    async with runtime.db.transaction() as conn:
        mine = await repository.open_opportunity(
            conn, lead_id=lead_id, customer_id="c", owner_id="rep-a", stage="qualification", opened_at=datetime.now(UTC)
        )
    assert mine is not None
    servicer = PipelineServicer(runtime)
    by_lead = pipeline_pb2.ListOpportunitiesRequest(lead_id=lead_id)
    get = pipeline_pb2.GetOpportunityRequest(opportunity_id=str(mine.id))
    with acting_as(Principal(subject="a", role=Role.SALES_REP, rep_id="rep-a")):
        assert [o.id for o in (await servicer.ListOpportunities(by_lead, None)).opportunities] == [str(mine.id)]
        assert (await servicer.GetOpportunity(get, None)).opportunity.owner_id == "rep-a"
    with acting_as(Principal(subject="b", role=Role.SALES_REP, rep_id="rep-b")):
        assert list((await servicer.ListOpportunities(by_lead, None)).opportunities) == []
        with pytest.raises(NotFound):
            await servicer.GetOpportunity(get, None)
    with acting_as(Principal(subject="d", role=Role.CUSTOMER_SUCCESS_DIRECTOR)):
        assert list((await servicer.ListOpportunities(by_lead, None)).opportunities) == []
    with acting_as(Principal(subject="v", role=Role.VIEWER)):
        assert (await servicer.GetOpportunity(get, None)).opportunity.id == str(mine.id)
