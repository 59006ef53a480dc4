"""Who sees which notification and recipient, decided in the service from the verified caller."""

from __future__ import annotations

import uuid

import pytest

from crm.notification.v1 import notification_pb2
from crm_common.errors import NotFound, PermissionDenied
from crm_common.identity import Principal, Role, acting_as
from crm_common.service import Runtime
from notification.handlers import NotificationServicer

from .test_handlers import assign


def _as(role: Role, *, rep_id: str | None = None, teams: tuple[str, ...] = ()) -> Principal:
    return Principal(subject=f"test:{role.value}", role=role, rep_id=rep_id, team_ids=teams)


async def test_a_viewer_sees_no_text_and_a_rep_only_its_own(runtime: Runtime) -> None:
    servicer = NotificationServicer(runtime)
    lead_id, rep, other = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    await assign(runtime, lead_id=lead_id, assignee_id=rep, lead_name="Chen Jie")
    await assign(runtime, lead_id=lead_id, assignee_id=other, lead_name="Chen Jie")
    by_lead = notification_pb2.ListNotificationsRequest(lead_id=lead_id)
    with acting_as(_as(Role.ADMIN)):
        every = (await servicer.ListNotifications(by_lead, None)).notifications
    assert len(every) == 2 and all("Chen Jie" in n.title for n in every)
    mine = next(n for n in every if n.recipient_id == rep)
    with acting_as(_as(Role.VIEWER)):
        seen = (await servicer.ListNotifications(by_lead, None)).notifications
        one = (await servicer.GetNotification(notification_pb2.GetNotificationRequest(notification_id=mine.id), None))
    assert len(seen) == 2 and all(not n.title and not n.body for n in seen)
    assert "Chen Jie" not in str(one)
    with acting_as(_as(Role.SALES_REP, rep_id=rep)):
        seen = (await servicer.ListNotifications(by_lead, None)).notifications
        assert [n.recipient_id for n in seen] == [rep] and "Chen Jie" in seen[0].title
        theirs = next(n for n in every if n.recipient_id == other)
        with pytest.raises(NotFound):
            await servicer.GetNotification(notification_pb2.GetNotificationRequest(notification_id=theirs.id), None)
        with pytest.raises(NotFound):
            await servicer.ListInbox(notification_pb2.ListInboxRequest(recipient_id=other), None)
        assert (await servicer.ListInbox(notification_pb2.ListInboxRequest(recipient_id=rep), None)).messages
    with acting_as(_as(Role.MANAGER, teams=("not-their-team",))), pytest.raises(NotFound):
        await servicer.ListInbox(notification_pb2.ListInboxRequest(recipient_id=rep), None)


async def test_a_recipients_mobile_and_email_only_for_those_granted(runtime: Runtime) -> None:
    servicer = NotificationServicer(runtime)
    rep = str(uuid.uuid4())
    given = notification_pb2.Recipient(id=rep, name="Wang", mobile="+8613800000001", email="w@example.com",
                                       team_id="t1", fallback_chain=["in_app"])
    with acting_as(_as(Role.ADMIN)):
        await servicer.PutRecipient(notification_pb2.PutRecipientRequest(recipient=given), None)
        assert (await servicer.GetRecipient(notification_pb2.GetRecipientRequest(id=rep), None)).recipient.mobile
    for principal in (_as(Role.VIEWER), _as(Role.MANAGER, teams=("t2",))):
        with acting_as(principal):
            got = (await servicer.GetRecipient(notification_pb2.GetRecipientRequest(id=rep), None)).recipient
        assert got.id == rep and not got.mobile and not got.email
    with acting_as(_as(Role.SALES_REP, rep_id=rep)):
        assert (await servicer.GetRecipient(notification_pb2.GetRecipientRequest(id=rep), None)).recipient.email
    with acting_as(_as(Role.SALES_REP, rep_id="someone")), pytest.raises(NotFound):
        await servicer.GetRecipient(notification_pb2.GetRecipientRequest(id=rep), None)
    with acting_as(_as(Role.VIEWER)), pytest.raises(PermissionDenied):
        await servicer.PutRecipient(notification_pb2.PutRecipientRequest(recipient=given), None)
