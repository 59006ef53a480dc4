"""The lead-assigned consumer through real JetStream: duplicates, replays and the event it publishes."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

from sqlalchemy import func, select

from crm.events.v1 import notification_events_pb2
from crm_common.bus.consumer import DurableConsumer
from crm_common.service import Runtime
from notification.app import DEFINITION
from notification.channels import default_adapters
from notification.consumers import consumer_specs
from notification.tables import inbox_messages, notifications

from .helpers import lead_assigned
from .kit import Kit

DURABLE = "notification-lead-assigned"


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def running_consumer(runtime: Runtime) -> AsyncIterator[DurableConsumer]:
    assert runtime.js is not None and runtime.relay is not None
    spec = consumer_specs(runtime, default_adapters(), channel="in_app")[0]
    consumer = DurableConsumer(
        spec, db=runtime.db, inbox=DEFINITION.inbox, js=runtime.js,
        max_deliver=runtime.settings.max_deliver, on_committed=runtime.relay.wake,
    )
    task = asyncio.create_task(consumer.run())
    try:
        yield consumer
    finally:
        consumer.stop()
        await asyncio.wait_for(task, 5)


async def settled(runtime: Runtime) -> bool:
    """The durable consumer has every message of the stream and none waits for an ack."""
    assert runtime.js is not None
    try:
        info = await runtime.js.consumer_info("CRM_LEAD", DURABLE)
    except Exception:
        return False
    return info.num_pending == 0 and info.num_ack_pending == 0


async def counts(runtime: Runtime, lead_id: str) -> tuple[int, int]:
    async with runtime.db.connect() as conn:
        ids = select(notifications.c.id).where(notifications.c.lead_id == lead_id)
        n = await conn.scalar(select(func.count()).select_from(notifications).where(notifications.c.lead_id == lead_id))
        m = await conn.scalar(select(func.count()).select_from(inbox_messages).where(inbox_messages.c.notification_id.in_(ids)))
    return int(n), int(m)


async def test_duplicates_are_ignored_replays_change_nothing_and_a_new_event_notifies_again(runtime: Runtime) -> None:
    assert runtime.js is not None
    event = lead_assigned(lead_name="Zhang San", company="Acme")
    first_id, second_id = str(uuid.uuid4()), str(uuid.uuid4())
    delivered = await runtime.js.pull_subscribe("crm.notification.delivered", stream="CRM_NOTIFICATION")

    async with running_consumer(runtime):
        acks = [
            await runtime.js.publish("crm.lead.assigned", event.SerializeToString(), headers={"Nats-Msg-Id": msg_id})
            for msg_id in (first_id, first_id, second_id)
        ]
        # JetStream drops the same Nats-Msg-Id within its window; the consumer's inbox covers redeliveries.
        assert [bool(a.duplicate) for a in acks] == [False, True, False]
        await eventually(lambda: settled(runtime))
        await eventually(lambda: _equals(counts(runtime, event.lead_id), (2, 2)))

    # Replay: the durable consumer is recreated and JetStream redelivers the whole stream to it.
    await runtime.js.delete_consumer("CRM_LEAD", DURABLE)
    async with running_consumer(runtime):
        await eventually(lambda: settled(runtime))
    assert await counts(runtime, event.lead_id) == (2, 2)

    async with runtime.db.connect() as conn:
        keys = set(
            (await conn.scalars(select(notifications.c.idempotency_key).where(notifications.c.lead_id == event.lead_id))).all()
        )
    assert keys == {f"{first_id}:in_app", f"{second_id}:in_app"}

    published: list[notification_events_pb2.NotificationDelivered] = []

    async def both_published() -> bool:
        with contextlib.suppress(TimeoutError):
            for msg in await delivered.fetch(10, timeout=0.5):
                await msg.ack()
                payload = notification_events_pb2.NotificationDelivered.FromString(msg.data)
                if payload.lead_id == event.lead_id:
                    published.append(payload)
        return len(published) >= 2

    await eventually(both_published)
    assert {p.recipient_id for p in published} == {event.assignee_id}
    await delivered.unsubscribe()


async def _equals(value: Awaitable[tuple[int, int]], expected: tuple[int, int]) -> bool:
    return await value == expected


async def test_assignment_through_jetstream_reaches_a_wecom_recipient_with_the_loops_running(kit: Kit) -> None:
    """Consumer, dispatcher loop and health loop as the service runs them; the token is revoked midway."""
    runtime = kit.runtime
    assert runtime.js is not None
    wecom = await kit.channel("wecom_app")
    reps = [await kit.recipient([wecom], wecom_user_id=f"bus{i}") for i in range(6)]
    events = [lead_assigned(assignee_id=rep) for rep in reps]
    loops = [asyncio.create_task(kit.dispatcher.run()), asyncio.create_task(kit.health.run())]
    try:
        async with running_consumer(runtime):
            for i, event in enumerate(events):
                if i == 3:
                    kit.providers.state.expire_tokens()
                await runtime.js.publish("crm.lead.assigned", event.SerializeToString(), headers={"Nats-Msg-Id": str(uuid.uuid4())})
            await eventually(lambda: _all_delivered(kit, [e.lead_id for e in events]), within=20)
    finally:
        for loop in loops:
            loop.cancel()
        await asyncio.gather(*loops, return_exceptions=True)
    assert sorted(r.to for r in kit.providers.state.of("wecom")) == sorted(f"bus{i}" for i in range(6))
    published = await kit.published("crm.notification.delivered", notification_events_pb2.NotificationDelivered, events[-1].lead_id)
    assert [(p.recipient_id, p.channel) for p in published] == [(reps[-1], wecom)]


async def _all_delivered(kit: Kit, lead_ids: list[str]) -> bool:
    async with kit.runtime.db.connect() as conn:
        statuses = (await conn.scalars(select(notifications.c.status).where(notifications.c.lead_id.in_(lead_ids)))).all()
    return len(statuses) == len(lead_ids) and set(statuses) == {"delivered"}


async def test_a_lingering_consumer_applies_a_trickle_of_assignments_in_shared_transactions(runtime: Runtime) -> None:
    assert runtime.js is not None and runtime.relay is not None
    relay = runtime.relay
    spec = consumer_specs(runtime, default_adapters(), channel="in_app", linger_seconds=0.5)[0]
    assert spec.linger_seconds == 0.5
    commits: list[int] = []

    def committed() -> None:  # each commit that staged crm.notification.delivered
        commits.append(1)
        relay.wake()

    consumer = DurableConsumer(
        spec, db=runtime.db, inbox=DEFINITION.inbox, js=runtime.js,
        max_deliver=runtime.settings.max_deliver, on_committed=committed,
    )
    events = [lead_assigned() for _ in range(5)]
    task = asyncio.create_task(consumer.run())
    try:
        await eventually(lambda: settled(runtime))
        commits.clear()
        for event in events:  # a trickle: each arrives while the consumer lingers after the one before
            await runtime.js.publish("crm.lead.assigned", event.SerializeToString(), headers={"Nats-Msg-Id": str(uuid.uuid4())})
            await asyncio.sleep(0.02)
        for event in events:
            await eventually(lambda lead_id=event.lead_id: _equals(counts(runtime, lead_id), (1, 1)))
    finally:
        consumer.stop()
        await asyncio.wait_for(task, 5)
    # The first after the quiet spell is applied at once; the rest, gathered while it lingered, together.
    assert 1 <= len(commits) <= 3
