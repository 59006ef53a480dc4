"""Batched application on a real PostgreSQL and nats-server: batch handlers, and which commits wake the relay."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from opentelemetry import propagate, trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from crm.events.v1 import lead_events_pb2
from crm_common.bus.consumer import BatchHandler, ConsumerSpec, DurableConsumer, EventMeta, Handler
from crm_common.bus.outbox import OutboxRelay, stage_event
from crm_common.tests.busbed import Bus, effects, record_effect


def _assigned(lead_id: str) -> bytes:
    return lead_events_pb2.LeadAssigned(lead_id=lead_id, assignee_id="rep-1").SerializeToString()


async def _fetch(bus: Bus, consumer: DurableConsumer, count: int) -> list:  # type: ignore[type-arg]
    await consumer.subscribe()
    sub = await bus.js.pull_subscribe(consumer.spec.subject, durable=consumer.spec.durable)
    msgs = await sub.fetch(10, timeout=2)
    assert len(msgs) == count
    return msgs


def _batch_handler(batches: list[list[str]], apply: Handler) -> BatchHandler:
    """A batch handler that notes each batch's leads, then applies its events in turn with `apply`."""

    async def batch_handler(
        conn: AsyncConnection, events: Sequence[tuple[lead_events_pb2.LeadAssigned, EventMeta]]
    ) -> None:
        batches.append([message.lead_id for message, _ in events])
        for message, meta in events:
            await apply(conn, message, meta)

    return batch_handler  # type: ignore[return-value]


async def test_a_batch_handler_applies_a_batch_at_once_each_message_in_its_own_trace(bus: Bus) -> None:
    # The global provider is set once per process (maybe by another test module): record what it makes.
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        trace.set_tracer_provider(TracerProvider())
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    spans = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    tracer = provider.get_tracer("test")
    batches: list[list[str]] = []
    one_by_one: list[str] = []

    async def handler(conn: AsyncConnection, message: lead_events_pb2.LeadAssigned, meta: EventMeta) -> None:
        one_by_one.append(message.lead_id)
        await record_effect(conn, message, meta)

    batch_handler = _batch_handler(batches, record_effect)

    spec = ConsumerSpec(
        "test-batch-handler", "crm.lead.assigned", handler, order_by=lambda m: m.lead_id, batch_handler=batch_handler
    )
    consumer = DurableConsumer(spec, db=bus.db, inbox=bus.inbox, js=bus.js, max_deliver=3)
    origins = {}
    for lead_id in ("c", "a", "b"):
        with tracer.start_as_current_span(f"capture {lead_id}") as span:
            headers = {"Nats-Msg-Id": lead_id}
            propagate.inject(headers)
            origins[lead_id] = span.get_span_context().trace_id
        await bus.js.publish("crm.lead.assigned", _assigned(lead_id), headers=headers)
    await consumer.handle_batch(await _fetch(bus, consumer, 3))

    assert batches == [["a", "b", "c"]]  # once, in the batch's order
    assert one_by_one == []
    assert await effects(bus) == ["a", "b", "c"]
    processed = [s for s in spans.get_finished_spans() if s.name == "process crm.lead.assigned"]
    assert sorted(s.context.trace_id for s in processed) == sorted(origins.values())
    info = await bus.js.consumer_info("CRM_LEAD", "test-batch-handler")
    assert (info.num_ack_pending, info.num_pending) == (0, 0)


async def test_a_failing_batch_handler_leaves_the_failure_to_its_own_message(bus: Bus) -> None:
    batches: list[list[str]] = []

    async def handler(conn: AsyncConnection, message: lead_events_pb2.LeadAssigned, meta: EventMeta) -> None:
        if message.lead_id == "poison":
            raise ValueError("cannot apply")
        await record_effect(conn, message, meta)

    batch_handler = _batch_handler(batches, handler)

    spec = ConsumerSpec("test-batch-poison", "crm.lead.assigned", handler, batch_handler=batch_handler)
    consumer = DurableConsumer(spec, db=bus.db, inbox=bus.inbox, js=bus.js, max_deliver=3)
    for lead_id in ("a", "poison", "b"):
        await bus.js.publish("crm.lead.assigned", _assigned(lead_id), headers={"Nats-Msg-Id": lead_id})
    await consumer.handle_batch(await _fetch(bus, consumer, 3))

    # The batch rolled back whole, then each message ran alone: a and b applied once, the poison retried.
    assert batches == [["a", "poison", "b"]]
    assert await effects(bus) == ["a", "b"]
    async with bus.db.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(bus.inbox)) == 2
    info = await bus.js.consumer_info("CRM_LEAD", "test-batch-poison")
    assert info.num_ack_pending + info.num_pending == 1  # the poison message, back for another delivery


async def test_only_a_commit_that_staged_events_wakes_the_relay(bus: Bus) -> None:
    wakes: list[int] = []

    async def handler(conn: AsyncConnection, message: lead_events_pb2.LeadAssigned, meta: EventMeta) -> None:
        await record_effect(conn, message, meta)
        if message.lead_id.startswith("stages"):
            await stage_event(
                conn, bus.outbox, "crm.lead.claimed", lead_events_pb2.LeadClaimed(lead_id=message.lead_id)
            )

    spec = ConsumerSpec("test-wakes", "crm.lead.assigned", handler)
    consumer = DurableConsumer(
        spec, db=bus.db, inbox=bus.inbox, js=bus.js, max_deliver=3, on_committed=lambda: wakes.append(1)
    )
    await bus.js.publish("crm.lead.assigned", _assigned("quiet"), headers={"Nats-Msg-Id": "quiet"})
    await consumer.handle_batch(await _fetch(bus, consumer, 1))
    assert wakes == []
    for lead_id in ("stages-1", "stages-2"):
        await bus.js.publish("crm.lead.assigned", _assigned(lead_id), headers={"Nats-Msg-Id": lead_id})
    await consumer.handle_batch(await _fetch(bus, consumer, 2))
    assert wakes == [1]  # once for the batch, after its commit


async def test_a_commit_heard_during_a_pass_wakes_the_relay_again_only_if_the_pass_missed_it(bus: Bus) -> None:
    relay = OutboxRelay(db=bus.db, outbox=bus.outbox, js=bus.js, libpq_url=bus.libpq_url)
    async with bus.db.transaction() as conn:
        published = await stage_event(conn, bus.outbox, "crm.lead.assigned", lead_events_pb2.LeadAssigned(lead_id="p"))
    heard: list[str] = []
    publish_batch = relay.publish_batch

    async def pass_that_hears(*args: object) -> int:
        # The NOTIFY of a commit arrives while the pass is under way (say, the consumer's own commit's).
        for event_id in heard:
            relay._notified(event_id)
        return await publish_batch()

    relay.publish_batch = pass_that_hears  # type: ignore[method-assign]
    heard[:] = [published]
    assert await relay._relay_pass() == 1
    assert not relay._wake.is_set()  # that pass published the commit's events: no second, empty pass

    heard[:] = ["committed-after-the-claim"]
    assert await relay._relay_pass() == 0
    assert relay._wake.is_set()  # its events may not have been claimed: another pass
    await asyncio.sleep(0)


async def test_a_running_consumer_recreates_its_durable_when_it_is_deleted(bus: Bus) -> None:
    spec = ConsumerSpec("test-recreated", "crm.lead.assigned", record_effect)
    consumer = DurableConsumer(spec, db=bus.db, inbox=bus.inbox, js=bus.js, max_deliver=3)
    task = asyncio.create_task(consumer.run())

    async def applied(expected: list[str]) -> None:
        for _ in range(200):
            if await effects(bus) == expected:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"{await effects(bus)} != {expected}")

    try:
        await bus.js.publish("crm.lead.assigned", _assigned("before"), headers={"Nats-Msg-Id": "before"})
        await applied(["before"])
        await bus.js.delete_consumer("CRM_LEAD", "test-recreated")
        await bus.js.publish("crm.lead.assigned", _assigned("after"), headers={"Nats-Msg-Id": "after"})
        # The new durable starts from the stream's beginning; the inbox keeps "before" from running twice.
        await applied(["after", "before"])
    finally:
        consumer.stop()
        await asyncio.wait_for(task, 5)
