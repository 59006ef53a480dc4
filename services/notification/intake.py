"""Turning a request into a notification: the recipient's profile decides the channels, quiet hours the time."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from crm.events.v1 import notification_events_pb2
from crm_common.metrics import NOTIFICATIONS
from notification import config_cache, domain, repository
from notification.channels import InAppInboxAdapter
from notification.delivery import NotificationRequest, Stage, notify
from notification.rendering import render_kind

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Intake:
    """A notification to create for one recipient."""

    idempotency_key: str
    recipient_id: str
    lead_id: str
    kind: str
    title: str
    body: str
    urgent: bool = False
    event_at: datetime | None = None
    team_id: str = ""
    escalation_level: int = 0


def external_chain(recipient: Row | None) -> list[str]:
    """The recipient's channels to try in order (the in-app inbox gets a copy anyway)."""
    if recipient is None:
        return []
    return [c for c in recipient.fallback_chain if c and c != domain.IN_APP]


async def create(conn: AsyncConnection, intake: Intake, *, stage: Stage, default_channel: str = domain.IN_APP) -> uuid.UUID | None:
    """Create a notification (None when its key exists): in-app only, or queued on the recipient's chain."""
    recipient = await config_cache.recipient(conn, intake.recipient_id) if intake.recipient_id else None
    chain = external_chain(recipient)
    team_id = intake.team_id or (recipient.team_id if recipient is not None else "")
    if not chain:
        # No profile (or no external channel): the in-app inbox, delivered in this very transaction.
        request = NotificationRequest(
            idempotency_key=intake.idempotency_key,
            recipient_id=intake.recipient_id,
            channel=default_channel,
            lead_id=intake.lead_id,
            kind=intake.kind,
            title=intake.title,
            body=intake.body,
            urgent=intake.urgent,
            event_at=intake.event_at,
            team_id=team_id,
            escalation_level=intake.escalation_level,
        )
        return await notify(conn, request, adapter=InAppInboxAdapter(), stage=stage, last_chance=True)

    now = datetime.now(UTC)
    notification_id = await repository.insert_notification(
        conn,
        idempotency_key=intake.idempotency_key,
        recipient_id=intake.recipient_id,
        channel=chain[0],
        lead_id=intake.lead_id,
        kind=intake.kind,
        status=domain.PENDING,
        title=intake.title,
        body=intake.body,
        created_at=now,
        urgent=intake.urgent,
        event_at=intake.event_at,
        team_id=team_id,
        escalation_level=intake.escalation_level,
    )
    if notification_id is None:
        return None
    # The inbox copy is written with the request, so the person can see it whatever the providers do.
    await repository.insert_inbox_message(
        conn, recipient_id=intake.recipient_id, notification_id=notification_id, title=intake.title, body=intake.body
    )
    assert recipient is not None
    later = None if intake.urgent else domain.quiet_until(
        now, start=recipient.quiet_start, end=recipient.quiet_end, time_zone=recipient.time_zone
    )
    await repository.insert_delivery(conn, notification_id=notification_id, channel=chain[0], position=0, next_attempt_at=later or now)
    if later is not None:
        await repository.update_notification(
            conn, notification_id=notification_id, reason=f"quiet hours: held until {later.isoformat()}"
        )
    return notification_id


def _timestamp(at: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(at)
    return ts


async def escalation_target(
    conn: AsyncConnection, *, recipient_id: str, team_id: str, level: int, manager_id: str = "", clamp: bool = False
) -> str:
    """Who step `level` (0-based) of the team's escalation chain names for this recipient ("" when nobody).

    The default chain is the recipient's manager alone; with `clamp`, a level past the end names the last step.
    """
    chain = await config_cache.escalation_chain(conn, team_id) if team_id else None
    steps = list(chain.steps) if chain is not None and chain.steps else [domain.MANAGER_STEP]
    if level >= len(steps):
        if not clamp:
            return ""
        level = len(steps) - 1
    step = steps[level]
    if step != domain.MANAGER_STEP:
        return step
    if manager_id:
        return manager_id
    recipient = await config_cache.recipient(conn, recipient_id) if recipient_id else None
    return recipient.manager_id if recipient is not None else ""


async def fail_for_good(conn: AsyncConnection, notification: Row, reason: str, *, stage: Stage, channel: str) -> None:
    """Every channel failed: tell the next person in the chain (status `escalated`), or end `failed`."""
    now = datetime.now(UTC)
    level = int(notification.escalation_level)
    target = await escalation_target(
        conn, recipient_id=notification.recipient_id, team_id=notification.team_id, level=level
    )
    failed = notification_events_pb2.NotificationFailed(
        notification_id=str(notification.id),
        lead_id=notification.lead_id,
        recipient_id=notification.recipient_id,
        channel=channel,
        reason=reason,
        failed_at=_timestamp(now),
    )
    await stage(conn, "crm.notification.failed", failed)
    if not target or target == notification.recipient_id:
        await repository.update_notification(conn, notification_id=notification.id, status=domain.FAILED, reason=reason)
        NOTIFICATIONS.labels(channel, domain.FAILED).inc()
        log.error("notification %s failed for good with nobody to escalate to: %s", notification.id, reason,
                  extra={"notification_id": str(notification.id), "channel": channel, "lead_id": notification.lead_id})
        return
    recipient = await config_cache.recipient(conn, notification.recipient_id)
    rendered = await render_kind(conn, domain.DELIVERY_ESCALATED, {
        "recipient_name": (recipient.name if recipient is not None and recipient.name else notification.recipient_id),
        "original_title": notification.title,
        "original_body": notification.body,
        "reason": reason,
        "lead_id": notification.lead_id,
    })
    escalation_id = await create(
        conn,
        Intake(
            idempotency_key=f"escalation:{notification.id}",
            recipient_id=target,
            lead_id=notification.lead_id,
            kind=domain.DELIVERY_ESCALATED,
            title=rendered.title,
            body=rendered.body,
            urgent=True,
            event_at=notification.event_at,
            team_id=notification.team_id,
            escalation_level=level + 1,
        ),
        stage=stage,
    )
    await repository.update_notification(
        conn, notification_id=notification.id, status=domain.ESCALATED, reason=reason, escalated_to=target
    )
    await stage(
        conn,
        "crm.notification.escalated",
        notification_events_pb2.NotificationEscalated(
            notification_id=str(notification.id),
            lead_id=notification.lead_id,
            recipient_id=notification.recipient_id,
            escalated_to=target,
            reason=reason,
            escalation_notification_id=str(escalation_id or ""),
            escalated_at=_timestamp(now),
        ),
    )
    NOTIFICATIONS.labels(channel, domain.ESCALATED).inc()
    log.warning("notification %s failed on every channel; escalated to %s", notification.id, target,
                extra={"notification_id": str(notification.id), "lead_id": notification.lead_id})

