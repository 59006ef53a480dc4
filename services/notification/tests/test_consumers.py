"""The lead-assigned handler on a real database: what one event leaves behind, and every way it can fail."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import event as sa_event
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from crm.events.v1 import notification_events_pb2
from crm_common.bus.outbox import OutboxRelay
from crm_common.service import Runtime
from notification import domain
from notification.app import DEFINITION
from notification.channels import ChannelAdapter, DeliveryFailed, DeliveryReport, InAppInboxAdapter, OutgoingMessage
from notification.consumers import notify_assignee
from notification.tables import attempts, inbox_messages, notifications

from .helpers import lead_assigned, meta


class BrokenChannel(ChannelAdapter):
    """A channel that refuses every message (stands in for a provider outage or a revoked token)."""

    name = "in_app"

    def __init__(self, *, permanent: bool) -> None:
        self.permanent = permanent
        self.calls = 0

    async def deliver(self, conn: AsyncConnection, message: OutgoingMessage) -> DeliveryReport:
        self.calls += 1
        raise DeliveryFailed("token expired", permanent=self.permanent)


def metric(channel: str, status: str) -> float:
    return REGISTRY.get_sample_value("crm_notifications_total", {"channel": channel, "status": status}) or 0.0


async def staged(conn: AsyncConnection, subject: str, message_type: type) -> list:
    """Events staged in this transaction's outbox (the relay cannot see them before commit)."""
    outbox = DEFINITION.outbox
    rows = (await conn.execute(select(outbox.c.payload).where(outbox.c.subject == subject))).all()
    return [message_type.FromString(r.payload) for r in rows]


async def count(conn: AsyncConnection, table, **where: object) -> int:
    query = select(func.count()).select_from(table)
    for column, value in where.items():
        query = query.where(table.c[column] == value)
    return int(await conn.scalar(query))


async def test_lead_assigned_creates_one_delivered_notification_inbox_message_attempt_and_event(runtime: Runtime) -> None:
    event = lead_assigned(lead_name="王伟", company="")
    before = metric("in_app", "delivered")
    async with runtime.db.transaction() as conn:
        await notify_assignee(conn, event, meta(), runtime=runtime, adapters={"in_app": InAppInboxAdapter()}, channel="in_app")
        delivered = [e for e in await staged(conn, "crm.notification.delivered", notification_events_pb2.NotificationDelivered) if e.lead_id == event.lead_id]

    async with runtime.db.connect() as conn:
        rows = (await conn.execute(select(notifications).where(notifications.c.lead_id == event.lead_id))).all()
        assert len(rows) == 1
        row = rows[0]
        assert (row.recipient_id, row.channel, row.kind, row.status) == (event.assignee_id, "in_app", "lead_assigned", "delivered")
        assert row.delivered_at is not None and row.reason == ""
        assert "王伟" in row.title and f"Company: {domain.PLACEHOLDER}" in row.body
        inbox = (await conn.execute(select(inbox_messages).where(inbox_messages.c.notification_id == row.id))).all()
        assert [(m.recipient_id, m.title, m.body) for m in inbox] == [(event.assignee_id, row.title, row.body)]
        tries = (await conn.execute(select(attempts).where(attempts.c.notification_id == row.id))).all()
        assert [(a.number, a.channel, a.outcome) for a in tries] == [(1, "in_app", "delivered")]
    assert len(delivered) == 1
    assert delivered[0].notification_id == str(row.id)
    assert (delivered[0].recipient_id, delivered[0].channel) == (event.assignee_id, "in_app")
    assert delivered[0].delivered_at.ToDatetime().year >= 2024
    assert metric("in_app", "delivered") == before + 1


async def test_same_event_key_twice_creates_nothing_more(runtime: Runtime) -> None:
    """The idempotency key guards even without the bus's inbox (e.g. a second consumer of the same event)."""
    event, event_meta = lead_assigned(), meta()
    adapters = {"in_app": InAppInboxAdapter()}
    for _ in range(2):
        async with runtime.db.transaction() as conn:
            await notify_assignee(conn, event, event_meta, runtime=runtime, adapters=adapters, channel="in_app")
    async with runtime.db.connect() as conn:
        assert await count(conn, notifications, lead_id=event.lead_id) == 1
        assert await count(conn, inbox_messages, recipient_id=event.assignee_id) == 1


async def test_an_in_app_delivery_writes_its_event_in_its_one_statement_and_a_repeat_writes_none(
    runtime: Runtime,
) -> None:
    event, event_meta = lead_assigned(), meta()
    adapters = {"in_app": InAppInboxAdapter()}
    writes: list[str] = []

    def written(conn, cursor, statement: str, *args: object) -> None:  # type: ignore[no-untyped-def]
        if not statement.lstrip().upper().startswith("SELECT"):
            writes.append(statement)

    engine = runtime.db.engine.sync_engine
    sa_event.listen(engine, "before_cursor_execute", written)
    try:
        async with runtime.db.transaction() as conn:
            await notify_assignee(conn, event, event_meta, runtime=runtime, adapters=adapters, channel="in_app")
            first = len(writes)
            # The same event again (a second consumer of it, say): no notification, and no event either.
            await notify_assignee(conn, event, event_meta, runtime=runtime, adapters=adapters, channel="in_app")
            delivered = [
                e for e in await staged(conn, "crm.notification.delivered", notification_events_pb2.NotificationDelivered)
                if e.lead_id == event.lead_id
            ]
            assert OutboxRelay.staged_in(conn)  # so a consumer's commit wakes the relay
    finally:
        sa_event.remove(engine, "before_cursor_execute", written)
    assert first == 1  # the notification, its inbox message, its attempt and its event
    async with runtime.db.connect() as conn:
        row = (await conn.execute(select(notifications).where(notifications.c.lead_id == event.lead_id))).one()
    assert [e.notification_id for e in delivered] == [str(row.id)]


async def test_permanent_channel_failure_ends_failed_with_reason_attempt_and_event(runtime: Runtime) -> None:
    event, channel = lead_assigned(), BrokenChannel(permanent=True)
    before = metric("in_app", "failed")
    async with runtime.db.transaction() as conn:
        await notify_assignee(conn, event, meta(), runtime=runtime, adapters={"in_app": channel}, channel="in_app")
        failed = [e for e in await staged(conn, "crm.notification.failed", notification_events_pb2.NotificationFailed) if e.lead_id == event.lead_id]
    async with runtime.db.connect() as conn:
        row = (await conn.execute(select(notifications).where(notifications.c.lead_id == event.lead_id))).one()
        tries = (await conn.execute(select(attempts).where(attempts.c.notification_id == row.id))).all()
        assert await count(conn, inbox_messages, notification_id=row.id) == 0
    assert (row.status, row.reason, row.delivered_at) == ("failed", "token expired", None)
    assert [(a.number, a.outcome, a.detail) for a in tries] == [(1, "failed", "token expired")]
    assert [(e.notification_id, e.reason, e.recipient_id) for e in failed] == [(str(row.id), "token expired", event.assignee_id)]
    assert metric("in_app", "failed") == before + 1


async def test_transient_failure_is_retried_then_fails_for_good_on_the_last_delivery(runtime: Runtime) -> None:
    event, event_meta, channel = lead_assigned(), meta(), BrokenChannel(permanent=False)
    with pytest.raises(DeliveryFailed):
        async with runtime.db.transaction() as conn:
            await notify_assignee(conn, event, event_meta, runtime=runtime, adapters={"in_app": channel}, channel="in_app")
    async with runtime.db.connect() as conn:
        assert await count(conn, notifications, lead_id=event.lead_id) == 0, "a retried event must leave nothing behind"

    last = meta(event_id=event_meta.event_id, delivery=runtime.settings.max_deliver)
    async with runtime.db.transaction() as conn:
        await notify_assignee(conn, event, last, runtime=runtime, adapters={"in_app": channel}, channel="in_app")
    async with runtime.db.connect() as conn:
        row = (await conn.execute(select(notifications).where(notifications.c.lead_id == event.lead_id))).one()
    assert (row.status, row.reason) == ("failed", "token expired")
    assert channel.calls == 2


async def test_event_without_assignee_is_recorded_failed_without_calling_the_channel(runtime: Runtime) -> None:
    event, channel = lead_assigned(assignee_id=""), BrokenChannel(permanent=True)
    async with runtime.db.transaction() as conn:
        await notify_assignee(conn, event, meta(), runtime=runtime, adapters={"in_app": channel}, channel="in_app")
    async with runtime.db.connect() as conn:
        row = (await conn.execute(select(notifications).where(notifications.c.lead_id == event.lead_id))).one()
    assert row.status == "failed" and "no recipient" in row.reason
    assert channel.calls == 0


async def test_unknown_channel_is_recorded_failed(runtime: Runtime) -> None:
    event = lead_assigned()
    async with runtime.db.transaction() as conn:
        await notify_assignee(conn, event, meta(), runtime=runtime, adapters={}, channel="wecom")
    async with runtime.db.connect() as conn:
        row = (await conn.execute(select(notifications).where(notifications.c.lead_id == event.lead_id))).one()
    assert (row.status, row.channel) == ("failed", "wecom")
    assert "no adapter" in row.reason


class TransactionBreakingChannel(ChannelAdapter):
    """A channel whose write fails inside the database (here: the inbox holds one message per notification)."""

    name = "in_app"

    async def deliver(self, conn: AsyncConnection, message: OutgoingMessage) -> DeliveryReport:
        inbox = InAppInboxAdapter()
        await inbox.deliver(conn, message)
        return await inbox.deliver(conn, message)


async def test_channel_breaking_the_transaction_still_leaves_a_final_failed_record(runtime: Runtime) -> None:
    event = lead_assigned()
    last = meta(delivery=runtime.settings.max_deliver)
    async with runtime.db.transaction() as conn:
        await notify_assignee(conn, event, last, runtime=runtime, adapters={"in_app": TransactionBreakingChannel()}, channel="in_app")
    async with runtime.db.connect() as conn:
        row = (await conn.execute(select(notifications).where(notifications.c.lead_id == event.lead_id))).one()
        assert await count(conn, inbox_messages, notification_id=row.id) == 0, "the half-done delivery is rolled back"
    assert row.status == "failed" and row.reason.startswith("unexpected error:")
