"""Queries of subscriptions and their deliveries."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Row, and_, case, exists, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import aliased

from integration_gateway.outbound.domain import OutboundEvent
from integration_gateway.tables import ACTIVE, DEAD, DISABLED, PENDING, SUCCEEDED, deliveries, subscriptions

s = subscriptions
d = deliveries


async def insert_subscription(
    conn: AsyncConnection, *, url: str, events: list[str], description: str, secret: str
) -> Row:
    """A new active subscription."""
    return (
        await conn.execute(
            insert(s)
            .values(id=uuid.uuid4(), url=url, events=events, description=description, secret=secret, status=ACTIVE)
            .returning(*s.c)
        )
    ).one()


async def get_subscription(conn: AsyncConnection, *, subscription_id: uuid.UUID) -> Row | None:
    """One subscription, or None."""
    return (await conn.execute(select(s).where(s.c.id == subscription_id))).first()


async def rotate_secret(
    conn: AsyncConnection, *, subscription_id: uuid.UUID, secret: str, overlap: timedelta
) -> Row | None:
    """The new secret becomes current; the old one signs beside it until the overlap ends."""
    return (
        await conn.execute(
            update(s)
            .where(s.c.id == subscription_id)
            .values(secret=secret, previous_secret=s.c.secret, previous_secret_until=func.now() + overlap)
            .returning(*s.c)
        )
    ).first()


async def disable(conn: AsyncConnection, *, subscription_id: uuid.UUID, reason: str) -> None:
    """Stop deliveries to an endpoint (its receiver said 410 Gone)."""
    await conn.execute(update(s).where(s.c.id == subscription_id).values(status=DISABLED, disabled_reason=reason))


async def active_subscriptions(conn: AsyncConnection) -> Sequence[Row]:
    """Every active subscription (id and event patterns)."""
    return (await conn.execute(select(s.c.id, s.c.events).where(s.c.status == ACTIVE))).all()


async def insert_deliveries(
    conn: AsyncConnection, *, rows: Sequence[tuple[uuid.UUID, OutboundEvent]]
) -> int:
    """Queue deliveries (one per subscription and event; a redelivered event queues nothing new)."""
    if not rows:
        return 0
    values = [
        {"id": uuid.uuid4(), "subscription_id": sid, "event_id": e.event_id, "type": e.type,
         "ordering_key": e.ordering_key, "body": e.body, "status": PENDING}
        for sid, e in rows
    ]
    result = await conn.execute(
        insert(d).values(values).on_conflict_do_nothing(index_elements=[d.c.subscription_id, d.c.event_id])
    )
    return result.rowcount or 0


async def claim_due(conn: AsyncConnection, *, limit: int, lease: timedelta) -> Sequence[Row]:
    """Due deliveries in arrival order, leased for `lease`, with their endpoint.

    A delivery is taken only when no earlier delivery of its (subscription, ordering key) waits (for a retry, or
    under another lease), so a customer's events reach a receiver in order; taken in seq order, a key's earlier
    deliveries are always in the same claim. Claims are serialised by a transaction lock, so two replicas never
    split one key's queue. The lease (next_attempt_at moved ahead) brings a delivery back if this process dies.
    """
    await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('integration_gateway.claim_due'))"))
    earlier = aliased(d)
    waiting = exists().where(
        and_(
            earlier.c.subscription_id == d.c.subscription_id,
            earlier.c.ordering_key == d.c.ordering_key,
            earlier.c.status == PENDING,
            earlier.c.next_attempt_at > func.now(),
            earlier.c.seq < d.c.seq,
        )
    )
    due = (
        select(d.c.id)
        .join(s, s.c.id == d.c.subscription_id)
        .where(d.c.status == PENDING, d.c.next_attempt_at <= func.now(), s.c.status == ACTIVE, ~waiting)
        .order_by(d.c.seq)
        .limit(limit)
        .scalar_subquery()
    )
    claimed = (
        await conn.execute(
            update(d).where(d.c.id.in_(due)).values(next_attempt_at=func.now() + lease).returning(d.c.id)
        )
    ).scalars().all()
    if not claimed:
        return []
    query = (
        select(d, s.c.url, s.c.secret, s.c.previous_secret, s.c.previous_secret_until)
        .join(s, s.c.id == d.c.subscription_id)
        .where(d.c.id.in_(claimed))
        .order_by(d.c.seq)
    )
    return (await conn.execute(query)).all()


async def release(conn: AsyncConnection, *, delivery_ids: Sequence[uuid.UUID]) -> None:
    """Claimed deliveries not attempted (an earlier one of their key failed): due again at once, behind it."""
    if delivery_ids:
        await conn.execute(update(d).where(d.c.id.in_(list(delivery_ids))).values(next_attempt_at=func.now()))


async def mark_succeeded(conn: AsyncConnection, *, delivered: dict[uuid.UUID, int]) -> None:
    """Record successful deliveries (id -> the receiver's status code) in one statement."""
    codes = case(delivered, value=d.c.id)
    await conn.execute(
        update(d).where(d.c.id.in_(list(delivered))).values(
            status=SUCCEEDED, attempts=d.c.attempts + 1, last_status_code=codes, last_error="",
            delivered_at=func.now(),
        )
    )


async def mark_retry(
    conn: AsyncConnection, *, delivery_id: uuid.UUID, status_code: int, error: str, at: datetime
) -> None:
    await conn.execute(
        update(d).where(d.c.id == delivery_id).values(
            attempts=d.c.attempts + 1, last_status_code=status_code, last_error=error, next_attempt_at=at,
        )
    )


async def mark_dead(conn: AsyncConnection, *, delivery_id: uuid.UUID, status_code: int, error: str) -> None:
    """Attempts spent (or the endpoint is gone): a dead letter an operator lists and replays."""
    await conn.execute(
        update(d).where(d.c.id == delivery_id).values(
            status=DEAD, attempts=d.c.attempts + 1, last_status_code=status_code, last_error=error,
            failed_at=func.now(),
        )
    )


async def list_deliveries(
    conn: AsyncConnection, *, subscription_id: uuid.UUID, status: str | None, limit: int
) -> Sequence[Row]:
    query = select(d).where(d.c.subscription_id == subscription_id)
    if status:
        query = query.where(d.c.status == status)
    return (await conn.execute(query.order_by(d.c.seq.desc()).limit(limit))).all()


async def requeue(
    conn: AsyncConnection, *, subscription_id: uuid.UUID, since: datetime | None = None,
    delivery_id: uuid.UUID | None = None,
) -> Sequence[Row]:
    """Failed deliveries back to pending, due now, with a fresh schedule; returns them."""
    query = update(d).where(d.c.subscription_id == subscription_id)
    if delivery_id is not None:
        query = query.where(d.c.id == delivery_id)
    else:
        query = query.where(d.c.status == DEAD, d.c.created_at >= since)
    query = query.values(status=PENDING, attempts=0, next_attempt_at=func.now(), failed_at=None, delivered_at=None)
    return (await conn.execute(query.returning(*d.c))).all()


async def get_delivery(conn: AsyncConnection, *, subscription_id: uuid.UUID, delivery_id: uuid.UUID) -> Row | None:
    return (
        await conn.execute(select(d).where(d.c.id == delivery_id, d.c.subscription_id == subscription_id))
    ).first()


async def reactivate(conn: AsyncConnection, *, subscription_id: uuid.UUID) -> None:
    """An operator replaying to a disabled endpoint says it is back."""
    await conn.execute(update(s).where(s.c.id == subscription_id).values(status=ACTIVE, disabled_reason=""))
