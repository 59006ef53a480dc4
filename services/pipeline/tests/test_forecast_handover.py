"""The weighted forecast, checked by hand; a deactivated rep's open deals handed over."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from crm.events.v1 import lead_events_pb2
from crm.pipeline.v1 import pipeline_pb2
from crm_common.bus.consumer import EventMeta
from crm_common.identity import Principal, acting_as
from crm_common.service import Runtime
from pipeline.deps import Deps
from pipeline.handlers import PipelineServicer
from pipeline.handover.consumer import REP_DEACTIVATED, rep_deactivated_consumer
from pipeline.tests.support import ADMIN, ADMIN_2, MGR_1, MGR_2, REP_A, get, move, open_deal, put

MARCH = datetime(2031, 3, 15, 10, 0, tzinfo=UTC)


async def _forecast(servicer: PipelineServicer, who: Principal, group_by: str) -> list[tuple[str, int, str, str, str]]:
    with acting_as(who):
        found = await servicer.GetForecast(pipeline_pb2.GetForecastRequest(group_by=group_by, month="2031-03"), None)
    return [(r.owner_id or r.team_id, r.count, r.amount, r.weighted_amount, r.won_amount) for r in found.rows]


async def test_weighted_forecast_by_owner_and_team_and_the_actual(servicer: PipelineServicer, runtime: Runtime) -> None:
    in_march = PipelineServicer(runtime, deps=Deps(runtime=runtime, directory=servicer.deps.directory, now=lambda: MARCH))
    key = await put(in_march)
    await open_deal(in_march, key, amount="1000", expected_close_date="2031-03-10")  # qualification, p 0.1 -> 100
    demo = await open_deal(in_march, key, amount="2000", expected_close_date="2031-03-20")
    await open_deal(in_march, key, owner="rep-c", amount="500", expected_close_date="2031-03-01")  # -> 50
    await open_deal(in_march, key, owner="rep-b", amount="3000", expected_close_date="2031-04-01")  # April: not counted
    won = await open_deal(in_march, key, amount="700", expected_close_date="2031-02-28")
    for deal, to in ((demo, "demo"), (won, "won")):
        with acting_as(ADMIN):
            asked = await in_march.RequestOverride(pipeline_pb2.RequestOverrideRequest(opportunity_id=deal.id, to_stage=to, reason="test"), None)
        with acting_as(ADMIN_2):
            await in_march.DecideApproval(pipeline_pb2.DecideApprovalRequest(approval_id=asked.approval.id, approve=True), None)
    # demo: 2000 x 0.3 = 600; rep-a: 1000 + 2000 = 3000, weighted 100 + 600 = 700; won in March: 700.
    assert await _forecast(in_march, ADMIN, "owner") == [
        ("rep-a", 2, "3000.00", "700.00", "700.00"), ("rep-c", 1, "500.00", "50.00", "0.00"),
    ]
    assert await _forecast(in_march, ADMIN, "team") == [("team-1", 3, "3500.00", "750.00", "700.00")]
    assert await _forecast(in_march, REP_A, "owner") == [("rep-a", 2, "3000.00", "700.00", "700.00")]
    assert await _forecast(in_march, MGR_1, "team") == [("team-1", 3, "3500.00", "750.00", "700.00")]
    assert await _forecast(in_march, MGR_2, "team") == []


async def test_a_deactivated_reps_open_deals_go_to_the_successor_else_the_manager(
    servicer: PipelineServicer, runtime: Runtime, deps: Deps
) -> None:
    key = await put(servicer)
    leaver = f"rep-{uuid.uuid4().hex[:6]}"
    open_one = await open_deal(servicer, key, owner=leaver)
    closed = await open_deal(servicer, key, owner=leaver)
    await move(servicer, ADMIN, closed.id, "lost", reason="went elsewhere")
    handler = rep_deactivated_consumer(deps).handler
    meta = EventMeta(event_id=str(uuid.uuid4()), subject=REP_DEACTIVATED, published_at=datetime.now(UTC), delivery=1)
    async with runtime.db.transaction() as conn:
        await handler(conn, lead_events_pb2.RepDeactivated(rep_id=leaver, manager_id="mgr-1"), meta)
    moved = await get(servicer, open_one.id)
    assert (moved.owner_id, moved.team_id, moved.version) == ("mgr-1", "", open_one.version + 1)
    assert (await get(servicer, closed.id)).owner_id == leaver
    other = await open_deal(servicer, key, owner=leaver)
    async with runtime.db.transaction() as conn:
        await handler(conn, lead_events_pb2.RepDeactivated(rep_id=leaver, successor_id="rep-c", manager_id="mgr-1"), meta)
    after = await get(servicer, other.id)
    assert (after.owner_id, after.team_id) == ("rep-c", "team-1")
