"""Consumers of the events subscriptions can receive: each event queues one delivery per matching subscription."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from google.protobuf.message import Message
from sqlalchemy.ext.asyncio import AsyncConnection

from crm_common.bus.consumer import ConsumerSpec, EventMeta, after_commit
from integration_gateway.outbound import repository
from integration_gateway.outbound.domain import SUBJECTS, matches, outbound_events


def queue_deliveries(subject: str, wake: Callable[[], None]) -> Callable[[AsyncConnection, Message, EventMeta], object]:
    """The handler of one subject: deliveries queued in the consumer's transaction (with its inbox row)."""

    async def handle(conn: AsyncConnection, message: Message, meta: EventMeta) -> None:
        events = outbound_events(subject, message, event_id=meta.event_id, at=meta.published_at)
        subscribed = await repository.active_subscriptions(conn)
        rows = [(sub.id, e) for e in events for sub in subscribed if matches(sub.events, e.type)]
        if await repository.insert_deliveries(conn, rows=rows):
            after_commit(conn, wake)

    return handle


def queue_batch(subject: str, wake: Callable[[], None]) -> Callable[..., object]:
    """The same for a fetched batch: one read of the subscriptions and one insert for all of it."""

    async def handle(conn: AsyncConnection, batch: Sequence[tuple[Message, EventMeta]]) -> None:
        subscribed = await repository.active_subscriptions(conn)
        rows = [
            (sub.id, e)
            for message, meta in batch
            for e in outbound_events(subject, message, event_id=meta.event_id, at=meta.published_at)
            for sub in subscribed
            if matches(sub.events, e.type)
        ]
        if await repository.insert_deliveries(conn, rows=rows):
            after_commit(conn, wake)

    return handle


def consumer_specs(wake: Callable[[], None]) -> list[ConsumerSpec]:
    """One durable consumer per subject that maps to a public event type."""
    return [
        ConsumerSpec(
            durable="integration-gateway-" + subject.removeprefix("crm.").replace(".", "-").replace("_", "-"),
            subject=subject,
            handler=queue_deliveries(subject, wake),  # type: ignore[arg-type]
            batch_handler=queue_batch(subject, wake),  # type: ignore[arg-type]
        )
        for subject in SUBJECTS
    ]
