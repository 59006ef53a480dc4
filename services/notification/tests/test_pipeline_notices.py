"""Pipeline events reach people: an approval request the owner's manager, a stall the owner and then the chain."""

from __future__ import annotations

import uuid

from crm.events.v1 import pipeline_events_pb2
from crm.notification.v1 import notification_pb2
from notification.pipeline_notices import notify_approval_requested, notify_stalled, override_approvers
from notification.tests.helpers import meta
from notification.tests.kit import CONTEXT, Kit


async def test_an_approval_request_goes_to_the_owners_manager(kit: Kit) -> None:
    manager = await kit.recipient([], name="Boss")
    rep = await kit.recipient([], name="Rep", manager_id=manager)
    event = pipeline_events_pb2.ApprovalRequested(
        approval_id=str(uuid.uuid4()), opportunity_id=str(uuid.uuid4()), kind="skip", from_stage="qualification",
        to_stage="proposal", requested_by="rep", owner_id=rep, approver_role="manager", reason="in a hurry",
    )
    async with kit.runtime.db.transaction() as conn:
        await notify_approval_requested(conn, event, meta(), runtime=kit.runtime)
    told = await kit.notification(event.opportunity_id)
    assert (told.recipient_id, told.kind) == (manager, "opportunity_approval_requested")
    assert "from qualification to proposal (skip)" in told.body and "in a hurry" in told.body


async def test_a_stall_tells_owner_and_manager_and_a_re_escalation_goes_up(kit: Kit) -> None:
    manager = await kit.recipient([], name="Boss")
    rep = await kit.recipient([], name="Rep", manager_id=manager)
    opportunity = str(uuid.uuid4())
    stalled = pipeline_events_pb2.OpportunityStalled(
        opportunity_id=opportunity, stage="demo", owner_id=rep, level=0, block_reasons=["budget frozen"]
    )
    async with kit.runtime.db.transaction() as conn:
        await notify_stalled(conn, stalled, meta(), runtime=kit.runtime)
    told = (
        await kit.servicer.ListNotifications(notification_pb2.ListNotificationsRequest(lead_id=opportunity), CONTEXT)
    ).notifications
    assert sorted((n.recipient_id, n.kind) for n in told) == sorted(
        [(rep, "opportunity_stalled"), (manager, "opportunity_stalled")]
    )
    assert all("budget frozen" in n.body for n in told)


async def test_an_override_request_asks_every_other_admin_never_the_requester(kit: Kit) -> None:
    first = await kit.recipient([], name="Admin one")
    second = await kit.recipient([], name="Admin two")
    third = await kit.recipient([], name="Admin three")
    event = pipeline_events_pb2.ApprovalRequested(
        approval_id=str(uuid.uuid4()), opportunity_id=str(uuid.uuid4()), kind="override", from_stage="qualification",
        to_stage="won", requested_by=first, approver_role="admin", reason="signed on paper",
    )
    async with kit.runtime.db.transaction() as conn:
        await notify_approval_requested(conn, event, meta(), runtime=kit.runtime, admins=[first, second, third, second])
    told = (
        await kit.servicer.ListNotifications(notification_pb2.ListNotificationsRequest(lead_id=event.opportunity_id), CONTEXT)
    ).notifications
    assert sorted((n.recipient_id, n.kind) for n in told) == sorted(
        [(second, "opportunity_approval_requested"), (third, "opportunity_approval_requested")]
    )
    assert all("(override)" in n.body and "signed on paper" in n.body for n in told)


def test_override_approvers_are_read_from_the_settings(kit: Kit) -> None:
    settings = kit.runtime.settings.model_copy(update={"pipeline_override_approvers": " admin-1, ,admin-2 "})
    assert override_approvers(settings) == ["admin-1", "admin-2"]
