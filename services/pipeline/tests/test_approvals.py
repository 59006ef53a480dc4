"""Skips and backward moves wait for the owner's manager; overrides for a second admin; nobody approves their own."""

from __future__ import annotations

import pytest

from crm.pipeline.v1 import pipeline_pb2
from crm_common.errors import FailedPrecondition, NotFound, PermissionDenied
from crm_common.identity import Principal, acting_as
from pipeline.handlers import PipelineServicer
from pipeline.tests.support import ADMIN, ADMIN_2, MGR_1, MGR_2, REP_A, get, move, open_deal, put


async def _decide(servicer: PipelineServicer, who: Principal, approval_id: str, approve: bool, reason: str = "") -> pipeline_pb2.DecideApprovalResponse:
    with acting_as(who):
        return await servicer.DecideApproval(
            pipeline_pb2.DecideApprovalRequest(approval_id=approval_id, approve=approve, reason=reason), None
        )


async def _pending(servicer: PipelineServicer, who: Principal, opportunity_id: str) -> list[str]:
    with acting_as(who):
        listed = await servicer.ListApprovals(
            pipeline_pb2.ListApprovalsRequest(status="pending", opportunity_id=opportunity_id), None
        )
    return [a.id for a in listed.approvals]


async def test_a_skip_waits_for_the_owners_manager(servicer: PipelineServicer) -> None:
    key = await put(servicer)
    deal = await open_deal(servicer, key)
    # The skip's gate is the stage being left: without its evidence the request is refused, no approval made.
    for _ in range(2):
        with acting_as(REP_A):
            await servicer.RecordContact(pipeline_pb2.RecordContactRequest(opportunity_id=deal.id, channel="wechat"), None)
    asked = await move(servicer, REP_A, deal.id, "proposal", reason="customer is in a hurry")
    assert (asked.allowed, asked.needs_approval, bool(asked.approval_id)) == (False, True, True)
    waiting = await get(servicer, deal.id)
    assert (waiting.stage, waiting.pending_approval.id, waiting.pending_approval.kind) == ("qualification", asked.approval_id, "skip")
    with pytest.raises(FailedPrecondition, match="pending approval"):
        await move(servicer, REP_A, deal.id, "won")

    assert await _pending(servicer, MGR_1, deal.id) == [asked.approval_id]
    assert await _pending(servicer, MGR_2, deal.id) == []
    with pytest.raises(NotFound):
        await _decide(servicer, MGR_2, asked.approval_id, True)
    approved = await _decide(servicer, MGR_1, asked.approval_id, True, "ok")
    assert (approved.approval.status, approved.approval.decided_by, approved.opportunity.stage) == ("approved", "mgr-1", "proposal")
    last = (await get(servicer, deal.id)).history[-1]
    assert (last.stage, last.by, last.approved_by, last.override) == ("proposal", "rep-a", "mgr-1", False)
    with pytest.raises(FailedPrecondition, match="already approved"):
        await _decide(servicer, MGR_1, asked.approval_id, False, "changed my mind")

    with acting_as(REP_A):
        notices = await servicer.ListOpportunityNotifications(
            pipeline_pb2.ListOpportunityNotificationsRequest(opportunity_id=deal.id), None
        )
    assert [(n.kind, n.recipient_id) for n in notices.notifications] == [
        ("approval_requested", "mgr-1"), ("approval_decided", "rep-a"),
    ]


async def test_a_requester_never_approves_their_own_request(servicer: PipelineServicer) -> None:
    key = await put(servicer)
    deal = await open_deal(servicer, key)
    asked = await move(servicer, MGR_1, deal.id, "lost", reason="no budget")
    assert asked.allowed  # losing a deal is always allowed, with a reason
    back = await move(servicer, MGR_1, deal.id, "qualification", reason="budget came back")
    assert back.needs_approval  # reopening is a backward move
    with pytest.raises(PermissionDenied, match="own request"):
        await _decide(servicer, MGR_1, back.approval_id, True)
    rejected = await _decide(servicer, ADMIN, back.approval_id, False, "not convinced")
    assert rejected.approval.status == "rejected"
    assert (await get(servicer, deal.id)).status == "lost"


async def test_an_override_needs_a_second_admin_and_shows_as_one(servicer: PipelineServicer) -> None:
    key = await put(servicer)
    deal = await open_deal(servicer, key)
    with acting_as(REP_A), pytest.raises(PermissionDenied):
        await servicer.RequestOverride(pipeline_pb2.RequestOverrideRequest(opportunity_id=deal.id, to_stage="won", reason="x"), None)
    with acting_as(ADMIN):
        asked = await servicer.RequestOverride(
            pipeline_pb2.RequestOverrideRequest(opportunity_id=deal.id, to_stage="won", reason="signed on paper, migrated"),
            None,
        )
    assert (asked.approval.kind, asked.approval.status) == ("override", "pending")
    with pytest.raises(PermissionDenied, match="own request"):
        await _decide(servicer, ADMIN, asked.approval.id, True)
    with pytest.raises(NotFound):
        await _decide(servicer, MGR_1, asked.approval.id, True)
    done = await _decide(servicer, ADMIN_2, asked.approval.id, True, "checked the contract")
    assert (done.opportunity.stage, done.opportunity.status) == ("won", "won")
    last = (await get(servicer, deal.id)).history[-1]
    assert (last.stage, last.by, last.approved_by, last.override) == ("won", "admin-1", "admin-2", True)
