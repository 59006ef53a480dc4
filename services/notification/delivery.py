"""Create a notification and deliver it through its channel, recording every outcome in one transaction."""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncConnection

from crm.events.v1 import notification_events_pb2
from crm_common.bus.consumer import after_commit
from crm_common.bus.outbox import riding_events
from crm_common.metrics import NOTIFICATION_DELIVERY, NOTIFICATIONS
from crm_common.telemetry import trace_id_of
from notification import domain, repository
from notification.channels import ChannelAdapter, DeliveryFailed, InAppInboxAdapter, OutgoingMessage

log = logging.getLogger(__name__)

Stage = Callable[[AsyncConnection, str, Message], Awaitable[str]]


@dataclass(frozen=True)
class NotificationRequest:
    """One notification to create and deliver."""

    idempotency_key: str
    recipient_id: str
    channel: str
    lead_id: str
    kind: str
    title: str
    body: str
    urgent: bool = False
    event_at: datetime | None = None
    team_id: str = ""
    escalation_level: int = 0


def _count(conn: AsyncConnection, request: NotificationRequest, status: str, at: datetime) -> None:
    """The metrics of a notification's outcome, once its transaction commits (a consumer may run it again)."""
    trace_id = trace_id_of()

    def record() -> None:
        NOTIFICATIONS.labels(request.channel, status).inc()
        if status == domain.DELIVERED and request.event_at is not None:
            NOTIFICATION_DELIVERY.labels(request.channel).observe(
                (at - request.event_at).total_seconds(), exemplar={"trace_id": trace_id} if trace_id else None
            )

    after_commit(conn, record)


def _timestamp(at: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(at)
    return ts


async def notify(
    conn: AsyncConnection,
    request: NotificationRequest,
    *,
    adapter: ChannelAdapter | None,
    stage: Stage,
    last_chance: bool,
    outbox: Table | None = None,
) -> uuid.UUID | None:
    """Create and deliver a notification; None when its idempotency key was already handled.

    A transient failure raises (rolling the whole transaction back) so the caller's delivery is
    retried, unless `last_chance`: then, like a permanent failure, it ends as `failed` with the
    reason, so nothing is dropped without a final status. Given `outbox` (the service's, that `stage`
    writes to), an in-app delivery writes its event with the notification, in the same statement.
    """
    now = datetime.now(UTC)
    if isinstance(adapter, InAppInboxAdapter) and request.recipient_id and not last_chance:
        return await _deliver_in_app(conn, request, now, stage=stage, outbox=outbox)
    notification_id = await repository.insert_notification(
        conn, **dataclasses.asdict(request), status=domain.PENDING, created_at=now
    )
    if notification_id is None:
        log.info("notification %s already exists; nothing to do", request.idempotency_key)
        return None
    if not request.recipient_id:
        await _fail(conn, notification_id, request, "no recipient: the triggering event names nobody", stage=stage)
        return notification_id
    if adapter is None:
        await _fail(conn, notification_id, request, f"no adapter for channel {request.channel!r}", stage=stage)
        return notification_id

    message = OutgoingMessage(
        notification_id=notification_id,
        idempotency_key=request.idempotency_key,
        recipient_id=request.recipient_id,
        title=request.title,
        body=request.body,
    )
    try:
        # A savepoint, so an adapter that breaks the transaction still leaves it usable for the failure record.
        async with conn.begin_nested():
            report = await adapter.deliver(conn, message)
    except DeliveryFailed as err:
        if not (err.permanent or last_chance):
            raise
        await _attempt_failed(conn, notification_id, request, err.reason, stage=stage)
        return notification_id
    except Exception as err:
        if not last_chance:
            raise
        await _attempt_failed(conn, notification_id, request, f"unexpected error: {err}", stage=stage)
        return notification_id

    at = datetime.now(UTC)
    await repository.record_attempt(
        conn,
        notification_id=notification_id,
        channel=request.channel,
        outcome=report.status,
        detail=report.detail,
        at=at,
    )
    if report.status == domain.DELIVERED:
        await repository.set_status(conn, notification_id=notification_id, status=domain.DELIVERED, delivered_at=at)
        await stage(
            conn,
            "crm.notification.delivered",
            notification_events_pb2.NotificationDelivered(
                notification_id=str(notification_id),
                lead_id=request.lead_id,
                recipient_id=request.recipient_id,
                channel=request.channel,
                delivered_at=_timestamp(at),
            ),
        )
    else:
        await repository.set_status(conn, notification_id=notification_id, status=domain.SENT)
    _count(conn, request, report.status, at)
    return notification_id


async def _deliver_in_app(
    conn: AsyncConnection, request: NotificationRequest, at: datetime, *, stage: Stage, outbox: Table | None
) -> uuid.UUID | None:
    """The in-app inbox in one statement: its only failure is the database's, which rolls back and retries.

    Its crm.notification.delivered rides on that statement when the outbox is known, else a second one stages
    it. Not on the last chance: there the general path, with its savepoint, records such a failure instead.
    """
    notification_id = uuid.uuid4()
    delivered = notification_events_pb2.NotificationDelivered(
        notification_id=str(notification_id),
        lead_id=request.lead_id,
        recipient_id=request.recipient_id,
        channel=request.channel,
        delivered_at=_timestamp(at),
    )
    riding = riding_events(conn, outbox, [("crm.notification.delivered", delivered)]) if outbox is not None else None
    created = await repository.insert_delivered_in_app(
        conn, **dataclasses.asdict(request), created_at=at, at=at, notification_id=notification_id, events=riding
    )
    if created is None:
        log.info("notification %s already exists; nothing to do", request.idempotency_key)
        return None
    if riding is None:
        await stage(conn, "crm.notification.delivered", delivered)
    _count(conn, request, domain.DELIVERED, at)
    return created


async def _attempt_failed(
    conn: AsyncConnection, notification_id: uuid.UUID, request: NotificationRequest, reason: str, *, stage: Stage
) -> None:
    await repository.record_attempt(
        conn,
        notification_id=notification_id,
        channel=request.channel,
        outcome="failed",
        detail=reason,
        at=datetime.now(UTC),
    )
    await _fail(conn, notification_id, request, reason, stage=stage)


async def _fail(
    conn: AsyncConnection, notification_id: uuid.UUID, request: NotificationRequest, reason: str, *, stage: Stage
) -> None:
    """Final status failed, with the reason, announced on crm.notification.failed."""
    await repository.set_status(conn, notification_id=notification_id, status=domain.FAILED, reason=reason)
    await stage(
        conn,
        "crm.notification.failed",
        notification_events_pb2.NotificationFailed(
            notification_id=str(notification_id),
            lead_id=request.lead_id,
            recipient_id=request.recipient_id,
            channel=request.channel,
            reason=reason,
            failed_at=_timestamp(datetime.now(UTC)),
        ),
    )
    _count(conn, request, domain.FAILED, datetime.now(UTC))
    log.warning(
        "notification %s failed: %s",
        notification_id,
        reason,
        extra={"notification_id": str(notification_id), "channel": request.channel, "lead_id": request.lead_id},
    )
