"""Every query of the notification schema."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Row, Table, TextClause, and_, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from crm_common.bus.outbox import RidingEvents, events_cte, events_cte_params, events_written
from notification.tables import attempts, channel_sends, deliveries, inbox_messages, notifications

LIST_LIMIT = 200


async def insert_notification(
    conn: AsyncConnection,
    *,
    idempotency_key: str,
    recipient_id: str,
    channel: str,
    lead_id: str,
    kind: str,
    status: str,
    title: str,
    body: str,
    created_at: datetime,
    urgent: bool = False,
    event_at: datetime | None = None,
    team_id: str = "",
    escalation_level: int = 0,
) -> uuid.UUID | None:
    """Create a notification; None when one with the same idempotency key already exists."""
    notification_id = uuid.uuid4()
    result = await conn.execute(
        pg_insert(notifications)
        .values(
            id=notification_id,
            idempotency_key=idempotency_key,
            recipient_id=recipient_id,
            channel=channel,
            lead_id=lead_id,
            kind=kind,
            status=status,
            title=title,
            body=body,
            created_at=created_at,
            urgent=urgent,
            event_at=event_at,
            team_id=team_id,
            escalation_level=escalation_level,
        )
        .on_conflict_do_nothing(index_elements=[notifications.c.idempotency_key])
        .returning(notifications.c.id)
    )
    return result.scalar_one_or_none()


# One statement for the whole of an in-app delivery (the most frequent notification): the notification,
# already delivered, its inbox message, its first attempt and, when given, its events (written only if the
# notification was). Plain SQL: SQLAlchemy recompiles an INSERT .. ON CONFLICT at every execution, and this runs
# for every assigned lead.
_DELIVERED_IN_APP = """
    WITH created AS (
        INSERT INTO notification.notifications (
            id, idempotency_key, recipient_id, channel, lead_id, kind, status, title, body, created_at, delivered_at,
            urgent, event_at, team_id, escalation_level
        ) VALUES (
            :id, :idempotency_key, :recipient_id, :channel, :lead_id, :kind, :status, :title, :body, :created_at, :at,
            :urgent, :event_at, :team_id, :escalation_level
        )
        ON CONFLICT (idempotency_key) DO NOTHING
        RETURNING id
    ), message AS (
        INSERT INTO notification.inbox_messages (id, recipient_id, notification_id, title, body)
        SELECT :message_id, :recipient_id, id, :title, :body FROM created
    ), attempt AS (
        INSERT INTO notification.attempts (notification_id, number, channel, outcome, detail, at)
        SELECT id, 1, :channel, :status, :detail, :at FROM created
    ){events}
    SELECT id FROM created
    """


@functools.cache
def _insert_delivered_in_app(outbox: Table | None, notify: bool) -> TextClause:
    if outbox is None:
        return text(_DELIVERED_IN_APP.format(events=""))
    events = events_cte(outbox, notify=notify, when="created")
    return text(_DELIVERED_IN_APP.format(events=f", {events}")).bindparams(*events_cte_params(notify=notify))


async def insert_delivered_in_app(
    conn: AsyncConnection,
    *,
    idempotency_key: str,
    recipient_id: str,
    channel: str,
    lead_id: str,
    kind: str,
    title: str,
    body: str,
    created_at: datetime,
    at: datetime,
    urgent: bool = False,
    event_at: datetime | None = None,
    team_id: str = "",
    escalation_level: int = 0,
    notification_id: uuid.UUID | None = None,
    events: RidingEvents | None = None,
) -> uuid.UUID | None:
    """Create a notification delivered to the in-app inbox; None when its idempotency key already exists.

    events (crm_common.bus.outbox.riding_events) are written by the same statement, only if the notification was.
    """
    message_id = uuid.uuid4()
    statement = _insert_delivered_in_app(*((events.outbox, events.notify) if events is not None else (None, False)))
    result = await conn.execute(
        statement,
        {
            "id": notification_id or uuid.uuid4(), "idempotency_key": idempotency_key, "recipient_id": recipient_id,
            "channel": channel, "lead_id": lead_id, "kind": kind, "status": "delivered", "title": title, "body": body,
            "created_at": created_at, "at": at, "urgent": urgent, "event_at": event_at, "team_id": team_id,
            "escalation_level": escalation_level, "message_id": message_id, "detail": f"inbox message {message_id}",
            **(events.params if events is not None else {}),
        },
    )
    created = result.scalar_one_or_none()
    if events is not None and created is not None:  # not created: its events were not written either
        events_written(conn, events)
    return created


async def set_status(
    conn: AsyncConnection,
    *,
    notification_id: uuid.UUID,
    status: str,
    reason: str = "",
    delivered_at: datetime | None = None,
) -> None:
    """Move a notification to a status (with the reason, and when it reached the recipient)."""
    await conn.execute(
        update(notifications)
        .where(notifications.c.id == notification_id)
        .values(status=status, reason=reason, delivered_at=delivered_at)
    )


async def record_attempt(
    conn: AsyncConnection, *, notification_id: uuid.UUID, channel: str, outcome: str, detail: str, at: datetime
) -> int:
    """Append the next numbered attempt of a notification; returns its number."""
    number = (
        select(func.coalesce(func.max(attempts.c.number), 0) + 1)
        .where(attempts.c.notification_id == notification_id)
        .scalar_subquery()
    )
    result = await conn.execute(
        insert(attempts)
        .values(notification_id=notification_id, number=number, channel=channel, outcome=outcome, detail=detail, at=at)
        .returning(attempts.c.number)
    )
    return int(result.scalar_one())


async def insert_inbox_message(
    conn: AsyncConnection, *, recipient_id: str, notification_id: uuid.UUID, title: str, body: str
) -> uuid.UUID:
    """Put a message in a recipient's in-app inbox (at most one per notification)."""
    message_id = uuid.uuid4()
    await conn.execute(
        insert(inbox_messages).values(
            id=message_id, recipient_id=recipient_id, notification_id=notification_id, title=title, body=body
        )
    )
    return message_id


async def get_notification(conn: AsyncConnection, *, notification_id: uuid.UUID) -> Row | None:
    """One notification, or None."""
    result = await conn.execute(select(notifications).where(notifications.c.id == notification_id))
    return result.first()


async def list_attempts(conn: AsyncConnection, *, notification_id: uuid.UUID) -> Sequence[Row]:
    """A notification's attempts in order."""
    result = await conn.execute(
        select(attempts).where(attempts.c.notification_id == notification_id).order_by(attempts.c.number)
    )
    return result.all()


async def list_attempts_of(conn: AsyncConnection, *, notification_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[Row]]:
    """The attempts of several notifications, grouped by notification, in order."""
    grouped: dict[uuid.UUID, list[Row]] = {nid: [] for nid in notification_ids}
    if not notification_ids:
        return grouped
    result = await conn.execute(
        select(attempts)
        .where(attempts.c.notification_id.in_(notification_ids))
        .order_by(attempts.c.notification_id, attempts.c.number)
    )
    for row in result:
        grouped[row.notification_id].append(row)
    return grouped


async def list_notifications(
    conn: AsyncConnection, *, lead_id: str = "", recipient_id: str = "", limit: int = LIST_LIMIT
) -> Sequence[Row]:
    """Notifications, newest first, optionally about one lead and/or for one recipient."""
    query = select(notifications).order_by(notifications.c.created_at.desc(), notifications.c.id).limit(limit)
    if lead_id:
        query = query.where(notifications.c.lead_id == lead_id)
    if recipient_id:
        query = query.where(notifications.c.recipient_id == recipient_id)
    return (await conn.execute(query)).all()


async def list_inbox(conn: AsyncConnection, *, recipient_id: str, limit: int = LIST_LIMIT) -> Sequence[Row]:
    """A recipient's in-app messages, newest first."""
    result = await conn.execute(
        select(inbox_messages)
        .where(inbox_messages.c.recipient_id == recipient_id)
        .order_by(inbox_messages.c.created_at.desc(), inbox_messages.c.id.desc())
        .limit(limit)
    )
    return result.all()


async def update_notification(conn: AsyncConnection, *, notification_id: uuid.UUID, **values: object) -> None:
    """Set some columns of a notification."""
    await conn.execute(update(notifications).where(notifications.c.id == notification_id).values(**values))


async def find_notification(conn: AsyncConnection, *, idempotency_key: str) -> Row | None:
    """The notification created for an idempotency key, or None."""
    result = await conn.execute(select(notifications).where(notifications.c.idempotency_key == idempotency_key))
    return result.first()


async def insert_delivery(
    conn: AsyncConnection, *, notification_id: uuid.UUID, channel: str, position: int, next_attempt_at: datetime
) -> None:
    """Queue a notification on one channel of its recipient's chain (once per notification and channel)."""
    await conn.execute(
        pg_insert(deliveries)
        .values(
            id=uuid.uuid4(),
            notification_id=notification_id,
            channel=channel,
            position=position,
            status="pending",
            send_key=f"{notification_id}:{channel}",
            next_attempt_at=next_attempt_at,
        )
        .on_conflict_do_nothing(index_elements=[deliveries.c.notification_id, deliveries.c.channel])
    )


_DELIVERY_WITH_NOTIFICATION = (
    *deliveries.c,
    notifications.c.recipient_id,
    notifications.c.lead_id,
    notifications.c.kind,
    notifications.c.title,
    notifications.c.body,
    notifications.c.urgent,
    notifications.c.event_at,
    notifications.c.team_id,
    notifications.c.escalation_level,
    notifications.c.idempotency_key,
    notifications.c.channel.label("primary_channel"),
)


async def due_deliveries(conn: AsyncConnection, *, now: datetime, limit: int) -> Sequence[Row]:
    """Deliveries whose time has come, locked for this worker (other replicas skip them)."""
    result = await conn.execute(
        select(*_DELIVERY_WITH_NOTIFICATION)
        .join(notifications, notifications.c.id == deliveries.c.notification_id)
        .where(deliveries.c.status.in_(("pending", "retrying")), deliveries.c.next_attempt_at <= now)
        .order_by(deliveries.c.next_attempt_at)
        .limit(limit)
        .with_for_update(of=deliveries, skip_locked=True)
    )
    return result.all()


async def expired_sends(conn: AsyncConnection, *, now: datetime, limit: int) -> Sequence[Row]:
    """Deliveries left `sending` past their lease: the process died between send and record."""
    result = await conn.execute(
        select(*_DELIVERY_WITH_NOTIFICATION)
        .join(notifications, notifications.c.id == deliveries.c.notification_id)
        .where(deliveries.c.status == "sending", deliveries.c.lease_until < now)
        .limit(limit)
        .with_for_update(of=deliveries, skip_locked=True)
    )
    return result.all()


async def start_sending(
    conn: AsyncConnection, *, delivery_id: uuid.UUID, lease_until: datetime, digest_key: str, now: datetime
) -> int:
    """Mark a delivery as being sent (the durable record before the provider call); returns its attempt count."""
    result = await conn.execute(
        update(deliveries)
        .where(deliveries.c.id == delivery_id)
        .values(status="sending", attempts=deliveries.c.attempts + 1, lease_until=lease_until, digest_key=digest_key, updated_at=now)
        .returning(deliveries.c.attempts)
    )
    return int(result.scalar_one())


async def finish_delivery(
    conn: AsyncConnection,
    *,
    delivery_id: uuid.UUID,
    status: str,
    now: datetime,
    last_error: str = "",
    next_attempt_at: datetime | None = None,
    expected: tuple[str, ...] = ("sending",),
) -> bool:
    """Record a send's outcome; False when the delivery is no longer in an expected status (someone settled it)."""
    values: dict[str, object] = {"status": status, "last_error": last_error, "lease_until": None, "updated_at": now}
    if next_attempt_at is not None:
        values["next_attempt_at"] = next_attempt_at
    result = await conn.execute(
        update(deliveries)
        .where(deliveries.c.id == delivery_id, deliveries.c.status.in_(expected))
        .values(**values)
        .returning(deliveries.c.id)
    )
    return result.first() is not None


async def defer_deliveries(conn: AsyncConnection, *, delivery_ids: Sequence[uuid.UUID], until: datetime) -> None:
    """Leave deliveries for later (a rate-limit window, quiet hours)."""
    if delivery_ids:
        await conn.execute(update(deliveries).where(deliveries.c.id.in_(list(delivery_ids))).values(next_attempt_at=until))


async def settle_attempt(
    conn: AsyncConnection, *, notification_id: uuid.UUID, channel: str, outcome: str, detail: str, at: datetime
) -> None:
    """Turn the open `sending` attempt of a notification on a channel into its outcome."""
    await conn.execute(
        update(attempts)
        .where(attempts.c.notification_id == notification_id, attempts.c.channel == channel, attempts.c.outcome == "sending")
        .values(outcome=outcome, detail=detail, at=at)
    )


async def lock_channel_window(conn: AsyncConnection, *, channel: str) -> None:
    """Serialise rate-limit accounting of one channel across replicas until the transaction ends."""
    await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"crm-notification-rate:{channel}"})


async def sends_since(conn: AsyncConnection, *, channel: str, since: datetime) -> tuple[int, datetime | None]:
    """How many provider calls a channel made since a moment, and the earliest of them."""
    row = (
        await conn.execute(
            select(func.count(), func.min(channel_sends.c.at)).where(channel_sends.c.channel == channel, channel_sends.c.at > since)
        )
    ).one()
    return int(row[0]), row[1]


async def record_sends(conn: AsyncConnection, *, channel: str, count: int, at: datetime) -> None:
    if count:
        await conn.execute(insert(channel_sends), [{"channel": channel, "at": at}] * count)


async def prune_sends(conn: AsyncConnection, *, before: datetime) -> None:
    await conn.execute(channel_sends.delete().where(channel_sends.c.at < before))


async def list_deliveries_of(conn: AsyncConnection, *, notification_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[Row]]:
    """The deliveries of several notifications, in chain order."""
    grouped: dict[uuid.UUID, list[Row]] = {nid: [] for nid in notification_ids}
    if not notification_ids:
        return grouped
    result = await conn.execute(
        select(deliveries).where(deliveries.c.notification_id.in_(notification_ids)).order_by(deliveries.c.position)
    )
    for row in result:
        grouped[row.notification_id].append(row)
    return grouped


async def count_escalations(conn: AsyncConnection, *, lead_id: str, kind: str) -> int:
    """How many notifications of a kind a lead has had (the next escalation goes one step further)."""
    value = await conn.scalar(
        select(func.count()).select_from(notifications).where(and_(notifications.c.lead_id == lead_id, notifications.c.kind == kind))
    )
    return int(value or 0)


FAILED_OUTCOMES = ("failed", "uncertain")


async def attempt_outcomes_since(conn: AsyncConnection, *, channel: str, since: datetime) -> tuple[int, int, bool]:
    """Finished attempts on a channel since a moment: (all, failed or unconfirmed, whether the latest failed)."""
    finished = (attempts.c.channel == channel, attempts.c.at > since, attempts.c.outcome != "sending")
    bad = func.count().filter(attempts.c.outcome.in_(FAILED_OUTCOMES))
    row = (await conn.execute(select(func.count(), bad).where(*finished))).one()
    latest = await conn.scalar(select(attempts.c.outcome).where(*finished).order_by(attempts.c.at.desc()).limit(1))
    return int(row[0]), int(row[1]), latest in FAILED_OUTCOMES


async def delivery_channels(conn: AsyncConnection, *, notification_id: uuid.UUID) -> set[str]:
    """Channels a notification has been queued on so far."""
    result = await conn.scalars(select(deliveries.c.channel).where(deliveries.c.notification_id == notification_id))
    return set(result.all())
