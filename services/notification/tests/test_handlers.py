"""NotificationService through an in-process gRPC server on port 0."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import grpc
import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncConnection

from crm.notification.v1 import notification_pb2, notification_pb2_grpc
from crm_common.errors import field_violations_of
from crm_common.grpc_client import channel_as
from crm_common.grpc_server import GrpcServer
from crm_common.identity import Role, user_principal
from crm_common.service import Runtime
from notification.app import DEFINITION, build
from notification.channels import ChannelAdapter, DeliveryFailed, DeliveryReport, InAppInboxAdapter, OutgoingMessage
from notification.consumers import notify_assignee

from .helpers import lead_assigned, meta


class RefusingChannel(ChannelAdapter):
    name = "in_app"

    async def deliver(self, conn: AsyncConnection, message: OutgoingMessage) -> DeliveryReport:
        raise DeliveryFailed("recipient unknown to the provider", permanent=True)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stub(runtime: Runtime) -> AsyncIterator[notification_pb2_grpc.NotificationServiceStub]:
    wiring = await build(runtime)
    server = GrpcServer(port=0, service_names=DEFINITION.grpc_services)
    wiring.register(server.server)
    await server.start()
    await server.serving(True)
    async with channel_as(f"127.0.0.1:{server.port}", user_principal(Role.ADMIN)) as channel:
        yield notification_pb2_grpc.NotificationServiceStub(channel)
    await server.stop(0)


async def assign(runtime: Runtime, *, adapter: ChannelAdapter | None = None, **fields: str) -> None:
    event = lead_assigned(**fields)
    async with runtime.db.transaction() as conn:
        await notify_assignee(
            conn, event, meta(), runtime=runtime, adapters={"in_app": adapter or InAppInboxAdapter()}, channel="in_app"
        )


async def test_get_notification_returns_it_with_its_attempts(runtime: Runtime, stub: notification_pb2_grpc.NotificationServiceStub) -> None:
    lead_id, rep = str(uuid.uuid4()), str(uuid.uuid4())
    await assign(runtime, lead_id=lead_id, assignee_id=rep, lead_name="Chen Jie")
    [listed] = (await stub.ListNotifications(notification_pb2.ListNotificationsRequest(lead_id=lead_id), timeout=5)).notifications

    got = (await stub.GetNotification(notification_pb2.GetNotificationRequest(notification_id=listed.id), timeout=5)).notification
    assert (got.lead_id, got.recipient_id, got.channel, got.kind) == (lead_id, rep, "in_app", "lead_assigned")
    assert got.status == notification_pb2.NOTIFICATION_STATUS_DELIVERED
    assert "Chen Jie" in got.body
    assert [(a.number, a.outcome) for a in got.attempts] == [(1, "delivered")]
    assert got.HasField("delivered_at") and got.delivered_at.seconds >= got.created_at.seconds


async def test_failed_notification_carries_reason_and_failed_attempt(runtime: Runtime, stub: notification_pb2_grpc.NotificationServiceStub) -> None:
    lead_id = str(uuid.uuid4())
    await assign(runtime, lead_id=lead_id, adapter=RefusingChannel())
    [got] = (await stub.ListNotifications(notification_pb2.ListNotificationsRequest(lead_id=lead_id), timeout=5)).notifications
    assert got.status == notification_pb2.NOTIFICATION_STATUS_FAILED
    assert got.reason == "recipient unknown to the provider"
    assert [(a.outcome, a.detail) for a in got.attempts] == [("failed", "recipient unknown to the provider")]
    assert not got.HasField("delivered_at")


@pytest.mark.parametrize("notification_id", [str(uuid.uuid4()), "not-a-uuid", ""])
async def test_get_unknown_or_malformed_notification_is_not_found(
    stub: notification_pb2_grpc.NotificationServiceStub, notification_id: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.GetNotification(notification_pb2.GetNotificationRequest(notification_id=notification_id), timeout=5)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


async def test_list_notifications_filters_by_lead_and_recipient(runtime: Runtime, stub: notification_pb2_grpc.NotificationServiceStub) -> None:
    lead_a, lead_b, rep = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    await assign(runtime, lead_id=lead_a, assignee_id=rep)
    await assign(runtime, lead_id=lead_b, assignee_id=rep)
    await assign(runtime, lead_id=lead_a)

    by_lead = (await stub.ListNotifications(notification_pb2.ListNotificationsRequest(lead_id=lead_a), timeout=5)).notifications
    by_rep = (await stub.ListNotifications(notification_pb2.ListNotificationsRequest(recipient_id=rep), timeout=5)).notifications
    both = (
        await stub.ListNotifications(notification_pb2.ListNotificationsRequest(lead_id=lead_a, recipient_id=rep), timeout=5)
    ).notifications
    assert len(by_lead) == 2 and {n.lead_id for n in by_lead} == {lead_a}
    assert {n.lead_id for n in by_rep} == {lead_a, lead_b} and len(by_rep) == 2
    assert [(n.lead_id, n.recipient_id) for n in both] == [(lead_a, rep)]
    assert all(len(n.attempts) == 1 for n in [*by_lead, *by_rep])


async def test_list_inbox_is_newest_first_and_only_the_recipients(runtime: Runtime, stub: notification_pb2_grpc.NotificationServiceStub) -> None:
    rep = str(uuid.uuid4())
    for name in ("first", "second", "third"):
        await assign(runtime, assignee_id=rep, lead_name=name)
    await assign(runtime, lead_name="someone else's")
    await assign(runtime, assignee_id=rep, adapter=RefusingChannel(), lead_name="never delivered")

    messages = (await stub.ListInbox(notification_pb2.ListInboxRequest(recipient_id=rep), timeout=5)).messages
    assert [m.title for m in messages] == [
        "New lead assigned: third (Acme)", "New lead assigned: second (Acme)", "New lead assigned: first (Acme)"
    ]
    assert {m.recipient_id for m in messages} == {rep}
    assert all(m.notification_id and m.created_at.seconds for m in messages)


async def test_list_inbox_without_recipient_is_invalid_argument_naming_the_field(stub: notification_pb2_grpc.NotificationServiceStub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.ListInbox(notification_pb2.ListInboxRequest(recipient_id="  "), timeout=5)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in field_violations_of(err.value)] == ["recipient_id"]
