"""Every query of the notification schema."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Row, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from notification.tables import attempts, inbox_messages, notifications

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
        )
        .on_conflict_do_nothing(index_elements=[notifications.c.idempotency_key])
        .returning(notifications.c.id)
    )
    return result.scalar_one_or_none()


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
