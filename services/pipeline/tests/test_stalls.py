"""Stalls: due times on the calendar or working hours, raised from the due index, told, re-escalated, legal tasks."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, time, timedelta

import pytest

from crm.events.v1 import pipeline_events_pb2
from crm.pipeline.v1 import pipeline_pb2
from crm_common.calendar import Calendar
from crm_common.identity import acting_as
from crm_common.service import Runtime
from pipeline import repository
from pipeline.definitions.model import parse
from pipeline.deps import Deps
from pipeline.handlers import PipelineServicer
from pipeline.stages.move import Conflict
from pipeline.stalls import repository as stalls_repo
from pipeline.stalls import worker
from pipeline.stalls.clock import first_due
from pipeline.tests.support import ADMIN, ADMIN_2, REP_A, SALES, get, move, open_deal, put, sales, wait_for

STAGES = parse("sales", SALES)
SHANGHAI_WEEK = Calendar(
    timezone="Asia/Shanghai", start=time(9), end=time(18),
    holidays=frozenset({date(2026, 10, 1)}), makeup_workdays=frozenset({date(2026, 10, 10)}),
)


def test_calendar_clock_counts_wall_time() -> None:
    entered = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
    due = first_due(STAGES.stage("qualification"), sub_state="", since=entered, sub_state_since=None, next_step_at=None, calendar=None)
    assert due is not None and (due.at, due.kind) == (entered + timedelta(hours=72), "stall")


def test_business_clock_counts_the_teams_working_hours() -> None:
    # Friday 2026-12-04 16:00 Shanghai (08:00 UTC): 2 working hours left, then Monday from 09:00: 6 more.
    entered = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)
    due = first_due(STAGES.stage("proposal"), sub_state="", since=entered, sub_state_since=None, next_step_at=None, calendar=SHANGHAI_WEEK)
    assert due is not None and due.at == datetime(2026, 12, 7, 7, 0, tzinfo=UTC)  # Monday 15:00 Shanghai
    # 30 Sep 17:00: 1 h left, 1 Oct is a holiday, 2 Oct (Friday) counts, then the make-up Saturday 10 Oct is not reached.
    before_holiday = datetime(2026, 9, 30, 9, 0, tzinfo=UTC)
    due = first_due(STAGES.stage("proposal"), sub_state="", since=before_holiday, sub_state_since=None, next_step_at=None, calendar=SHANGHAI_WEEK)
    assert due is not None and due.at == datetime(2026, 10, 2, 8, 0, tzinfo=UTC)  # 2 Oct 16:00 Shanghai
    # Friday 9 Oct 17:00 + 2 h: the make-up Saturday 10 Oct is a working day.
    friday = datetime(2026, 10, 9, 9, 0, tzinfo=UTC)
    two_hours = parse("x", sales(stages=[dict(SALES["stages"][2], stall_after="PT2H"), *SALES["stages"][3:]], skip_rules=[]))
    due = first_due(two_hours.stage("proposal"), sub_state="", since=friday, sub_state_since=None, next_step_at=None, calendar=SHANGHAI_WEEK)
    assert due is not None and due.at == datetime(2026, 10, 10, 2, 0, tzinfo=UTC)  # Saturday 10:00 Shanghai


def test_a_future_next_step_pauses_and_a_sub_state_sets_its_own_period() -> None:
    entered = datetime(2026, 12, 1, tzinfo=UTC)
    step = entered + timedelta(days=5)
    due = first_due(STAGES.stage("demo"), sub_state="", since=entered, sub_state_since=None, next_step_at=step, calendar=None)
    assert due is not None and due.at == step + timedelta(hours=72)
    sub_since = entered + timedelta(hours=1)
    due = first_due(STAGES.stage("demo"), sub_state="waiting_env", since=entered, sub_state_since=sub_since, next_step_at=None, calendar=None)
    assert due is not None and due.at == sub_since + timedelta(hours=24)
    legal = first_due(STAGES.stage("demo"), sub_state="contract_review", since=entered, sub_state_since=sub_since, next_step_at=None, calendar=None)
    assert legal is not None and (legal.kind, legal.at) == ("legal", sub_since + timedelta(hours=48))


async def _due_now(runtime: Runtime, opportunity_id: str, kind: str = "") -> datetime:
    due = datetime.now(UTC) - timedelta(seconds=1)
    values: dict[str, object] = {"stall_due_at": due}
    if kind:
        values["stall_kind"] = kind
    async with runtime.db.transaction() as conn:
        await stalls_repo.set_clock(conn, opportunity_id=uuid.UUID(opportunity_id), values=values)
    return due


async def _notices(servicer: PipelineServicer, opportunity_id: str) -> list[tuple[str, str]]:
    with acting_as(REP_A):
        found = await servicer.ListOpportunityNotifications(
            pipeline_pb2.ListOpportunityNotificationsRequest(opportunity_id=opportunity_id), None
        )
    return [(n.kind, n.recipient_id) for n in found.notifications]


async def test_a_due_stall_tells_owner_and_manager_then_re_escalates_once(
    servicer: PipelineServicer, runtime: Runtime, deps: Deps
) -> None:
    key = await put(servicer)
    deal = await open_deal(servicer, key)
    async with runtime.db.connect() as conn:
        row = await repository.get_opportunity(conn, opportunity_id=uuid.UUID(deal.id))
    assert row.stall_kind == "stall" and row.stall_due_at - row.stage_entered_at == timedelta(hours=72)
    await _due_now(runtime, deal.id)
    assert await worker.raise_due(deps, now=datetime.now(UTC)) >= 1
    async with runtime.db.connect() as conn:
        row = await repository.get_opportunity(conn, opportunity_id=uuid.UUID(deal.id))
    assert (row.stalled, row.stall_kind, row.stall_level) == (True, "escalate", 1)
    assert await _notices(servicer, deal.id) == [("stalled", "rep-a"), ("stalled", "mgr-1")]
    await _due_now(runtime, deal.id)
    await worker.raise_due(deps, now=datetime.now(UTC))
    async with runtime.db.connect() as conn:
        row = await repository.get_opportunity(conn, opportunity_id=uuid.UUID(deal.id))
    assert (row.stall_due_at, row.stall_kind) == (None, "")
    assert (await _notices(servicer, deal.id))[-1] == ("stall_escalated", "manager of mgr-1")
    assert (await servicer.GetOpportunity(pipeline_pb2.GetOpportunityRequest(opportunity_id=deal.id), None)).opportunity.stalled


async def test_the_worker_raises_a_short_stall_by_itself_and_announces_it(
    servicer: PipelineServicer, runtime: Runtime
) -> None:
    key = await put(servicer, sales(stages=[dict(SALES["stages"][0], stall_after="PT1S"), *SALES["stages"][1:]]))
    assert runtime.nc is not None
    heard: asyncio.Queue[bytes] = asyncio.Queue()

    async def on_stalled(msg: object) -> None:
        await heard.put(msg.data)  # type: ignore[attr-defined]

    sub = await runtime.nc.subscribe("crm.pipeline.stalled", cb=on_stalled)
    wake = asyncio.Event()
    deps = Deps(runtime=runtime, directory=servicer.deps.directory, on_due_changed=wake.set)
    task = asyncio.create_task(worker.run(deps, wake))
    try:
        deal = await open_deal(servicer, key)

        async def told() -> bool:
            return ("stalled", "rep-a") in await _notices(servicer, deal.id)

        await wait_for(told)
        event = pipeline_events_pb2.OpportunityStalled()
        async with asyncio.timeout(10):
            while event.opportunity_id != deal.id:
                event.ParseFromString(await heard.get())
        assert (event.stage, event.level, event.owner_id) == ("qualification", 0, "rep-a")
        assert event.at.ToDatetime() >= event.due_at.ToDatetime()  # never before it is due
        assert "budget frozen" in event.block_reasons
    finally:
        task.cancel()
        await sub.unsubscribe()


async def test_contract_review_over_48_hours_raises_a_legal_task(
    servicer: PipelineServicer, runtime: Runtime, deps: Deps
) -> None:
    key = await put(servicer)
    deal = await open_deal(servicer, key)
    with acting_as(ADMIN):
        await servicer.RequestOverride(pipeline_pb2.RequestOverrideRequest(opportunity_id=deal.id, to_stage="demo", reason="test"), None)
    with acting_as(ADMIN):
        pending = (await servicer.GetOpportunity(pipeline_pb2.GetOpportunityRequest(opportunity_id=deal.id), None)).opportunity.pending_approval
    with acting_as(ADMIN_2):
        await servicer.DecideApproval(pipeline_pb2.DecideApprovalRequest(approval_id=pending.id, approve=True), None)
    with acting_as(REP_A):
        moved = await servicer.SetSubState(pipeline_pb2.SetSubStateRequest(opportunity_id=deal.id, sub_state="contract_review"), None)
    assert moved.opportunity.sub_state == "contract_review"
    async with runtime.db.connect() as conn:
        row = await repository.get_opportunity(conn, opportunity_id=uuid.UUID(deal.id))
    assert (row.stall_kind, row.stall_due_at - row.sub_state_entered_at) == ("legal", timedelta(hours=48))
    await _due_now(runtime, deal.id)
    await worker.raise_due(deps, now=datetime.now(UTC))
    assert ("legal_review", "legal") in await _notices(servicer, deal.id)
    async with runtime.db.connect() as conn:
        row = await repository.get_opportunity(conn, opportunity_id=uuid.UUID(deal.id))
    # The ordinary stall of the stay is still to come, counted from the sub-state's entry.
    assert (row.stall_kind, row.stall_due_at - row.sub_state_entered_at) == ("stall", timedelta(hours=72))


async def test_raising_a_stall_is_a_change_a_stale_move_is_refused_and_a_pending_override_survives(
    servicer: PipelineServicer, runtime: Runtime, deps: Deps
) -> None:
    key = await put(servicer)
    deal = await open_deal(servicer, key)
    assert deal.version == 1
    with acting_as(ADMIN):
        asked = await servicer.RequestOverride(
            pipeline_pb2.RequestOverrideRequest(opportunity_id=deal.id, to_stage="won", reason="signed on paper"), None
        )
    await _due_now(runtime, deal.id)
    await worker.raise_due(deps, now=datetime.now(UTC))
    stalled = await get(servicer, deal.id)
    assert (stalled.stalled, stalled.version) == (True, 2)
    with pytest.raises(Conflict, match="version 2, not 1"):
        await move(servicer, REP_A, deal.id, "demo", version=1)
    # A re-escalation tells more people but changes nothing of the deal.
    await _due_now(runtime, deal.id)
    await worker.raise_due(deps, now=datetime.now(UTC))
    assert (await get(servicer, deal.id)).version == 2
    # The override asked before the stall is still for this deal as it is: a second admin's approval applies it.
    with acting_as(ADMIN_2):
        await servicer.DecideApproval(
            pipeline_pb2.DecideApprovalRequest(approval_id=asked.approval.id, approve=True, reason="seen the paper"), None
        )
    assert (await get(servicer, deal.id)).stage == "won"
