"""gRPC NotificationService: reads of notifications, their attempts and the in-app inbox."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import Row

from crm.notification.v1 import notification_pb2, notification_pb2_grpc
from crm_common.errors import FieldViolation, InvalidArgument, NotFound
from crm_common.service import Runtime
from notification import domain, repository


def _timestamp(at: datetime | None) -> Timestamp | None:
    if at is None:
        return None
    ts = Timestamp()
    ts.FromDatetime(at)
    return ts


def attempt_to_proto(row: Row) -> notification_pb2.Attempt:
    return notification_pb2.Attempt(
        number=row.number, channel=row.channel, outcome=row.outcome, detail=row.detail, at=_timestamp(row.at)
    )


def notification_to_proto(row: Row, attempts: Sequence[Row]) -> notification_pb2.Notification:
    return notification_pb2.Notification(
        id=str(row.id),
        recipient_id=row.recipient_id,
        channel=row.channel,
        lead_id=row.lead_id,
        kind=row.kind,
        status=domain.status_to_proto(row.status),
        reason=row.reason,
        body=row.body,
        attempts=[attempt_to_proto(a) for a in attempts],
        created_at=_timestamp(row.created_at),
        delivered_at=_timestamp(row.delivered_at),
    )


def inbox_message_to_proto(row: Row) -> notification_pb2.InboxMessage:
    return notification_pb2.InboxMessage(
        id=str(row.id),
        recipient_id=row.recipient_id,
        notification_id=str(row.notification_id),
        title=row.title,
        body=row.body,
        created_at=_timestamp(row.created_at),
    )


class NotificationServicer(notification_pb2_grpc.NotificationServiceServicer):
    """Translates NotificationService calls to repository reads."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def GetNotification(
        self, request: notification_pb2.GetNotificationRequest, context: grpc.aio.ServicerContext
    ) -> notification_pb2.GetNotificationResponse:
        try:
            notification_id = uuid.UUID(request.notification_id)
        except ValueError:
            # A malformed id names no notification; callers treat both the same way.
            raise NotFound(f"notification {request.notification_id!r} not found") from None
        async with self.runtime.db.connect() as conn:
            row = await repository.get_notification(conn, notification_id=notification_id)
            if row is None:
                raise NotFound(f"notification {request.notification_id} not found")
            attempts = await repository.list_attempts(conn, notification_id=notification_id)
        return notification_pb2.GetNotificationResponse(notification=notification_to_proto(row, attempts))

    async def ListNotifications(
        self, request: notification_pb2.ListNotificationsRequest, context: grpc.aio.ServicerContext
    ) -> notification_pb2.ListNotificationsResponse:
        async with self.runtime.db.connect() as conn:
            rows = await repository.list_notifications(
                conn, lead_id=request.lead_id.strip(), recipient_id=request.recipient_id.strip()
            )
            attempts = await repository.list_attempts_of(conn, notification_ids=[r.id for r in rows])
        return notification_pb2.ListNotificationsResponse(
            notifications=[notification_to_proto(r, attempts[r.id]) for r in rows]
        )

    async def ListInbox(
        self, request: notification_pb2.ListInboxRequest, context: grpc.aio.ServicerContext
    ) -> notification_pb2.ListInboxResponse:
        recipient_id = request.recipient_id.strip()
        if not recipient_id:
            raise InvalidArgument([FieldViolation("recipient_id", "required")])
        async with self.runtime.db.connect() as conn:
            rows = await repository.list_inbox(conn, recipient_id=recipient_id)
        return notification_pb2.ListInboxResponse(messages=[inbox_message_to_proto(r) for r in rows])
