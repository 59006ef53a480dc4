"""The bus on a real PostgreSQL and nats-server: outbox relay, idempotent consumers, dead letters, outages."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from crm.events.v1 import lead_events_pb2
from crm_common.bus.catalog import dead_letter_subject
from crm_common.bus.consumer import ConsumerSpec, DurableConsumer, EventMeta, after_commit
from crm_common.bus.dlq import list_dead_letters, replay
from crm_common.bus.outbox import OutboxRelay, stage_event
from crm_common.tests.busbed import Bus, effects, record_effect

SPANS = InMemorySpanExporter()
_provider = TracerProvider()
_provider.add_span_processor(SimpleSpanProcessor(SPANS))
tracer = _provider.get_tracer("test")


def _assigned(lead_id: str) -> lead_events_pb2.LeadAssigned:
    return lead_events_pb2.LeadAssigned(lead_id=lead_id, assignee_id="rep-1")


async def _run(coro_owner, *, until, within: float = 10.0) -> None:
    task = asyncio.create_task(coro_owner.run())
    try:
        deadline = asyncio.get_running_loop().time() + within
        while not await until():
            assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
            await asyncio.sleep(0.05)
    finally:
        coro_owner.stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 5)


async def test_staged_events_publish_only_when_the_transaction_commits(bus: Bus) -> None:
    with contextlib.suppress(RuntimeError):
        async with bus.db.transaction() as conn:
            await stage_event(conn, bus.outbox, "crm.lead.assigned", _assigned("rolled-back"))
            raise RuntimeError("business rule failed")
    async with bus.db.transaction() as conn:
        event_id = await stage_event(conn, bus.outbox, "crm.lead.assigned", _assigned("kept"))
    sub = await bus.js.pull_subscribe("crm.lead.assigned", durable="t-commit")
    relay = OutboxRelay(db=bus.db, outbox=bus.outbox, js=bus.js, libpq_url=bus.libpq_url, poll_seconds=0.1)

    async def drained() -> bool:
        async with bus.db.connect() as conn:
            return await conn.scalar(select(func.count()).select_from(bus.outbox)) == 0

    await _run(relay, until=drained)
    msgs = await sub.fetch(10, timeout=2)
    assert [lead_events_pb2.LeadAssigned.FromString(m.data).lead_id for m in msgs] == ["kept"]
    assert msgs[0].headers["Nats-Msg-Id"] == event_id


async def test_the_relay_wakes_at_each_commit_and_publishes_in_staging_order(bus: Bus) -> None:
    sub = await bus.js.pull_subscribe("crm.lead.assigned", durable="t-order")
    # Polling once a minute: only the commits' NOTIFY can get these events out within the test's wait.
    relay = OutboxRelay(db=bus.db, outbox=bus.outbox, js=bus.js, libpq_url=bus.libpq_url, poll_seconds=60)
    task = asyncio.create_task(relay.run())
    try:
        for _ in range(200):
            if relay.listening:
                break
            await asyncio.sleep(0.05)
        assert relay.listening
        await asyncio.sleep(0.2)  # the relay's first pass, which found nothing, is over
        staged = []
        for t in range(3):
            async with bus.db.transaction() as conn:
                for i in range(2):
                    staged.append(await stage_event(conn, bus.outbox, "crm.lead.assigned", _assigned(f"o-{t}-{i}")))
        msgs: list = []
        for _ in range(100):
            with contextlib.suppress(Exception):
                msgs.extend(await sub.fetch(10, timeout=0.1))
            if len(msgs) >= len(staged):
                break
    finally:
        relay.stop()
        await asyncio.wait_for(task, 5)
    assert [m.headers["Nats-Msg-Id"] for m in msgs] == staged
    async with bus.db.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(bus.outbox)) == 0


async def test_a_wrong_payload_type_is_refused_at_staging(bus: Bus) -> None:
    async with bus.db.transaction() as conn:
        with pytest.raises(TypeError):
            await stage_event(conn, bus.outbox, "crm.lead.claimed", _assigned("x"))


async def test_events_staged_while_nats_is_down_are_published_after_it_returns(bus: Bus) -> None:
    bus.nats.stop()
    relay = OutboxRelay(db=bus.db, outbox=bus.outbox, js=bus.js, libpq_url=bus.libpq_url, poll_seconds=0.1)
    task = asyncio.create_task(relay.run())
    async with bus.db.transaction() as conn:
        for i in range(5):
            await stage_event(conn, bus.outbox, "crm.lead.assigned", _assigned(f"outage-{i}"))
    await asyncio.sleep(1.0)
    async with bus.db.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(bus.outbox)) == 5
    bus.nats.start()
    try:
        for _ in range(200):
            async with bus.db.connect() as conn:
                if await conn.scalar(select(func.count()).select_from(bus.outbox)) == 0:
                    break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("outbox not drained after NATS came back")
    finally:
        relay.stop()
        await asyncio.wait_for(task, 5)
    info = await bus.js.stream_info("CRM_LEAD")
    assert info.state.messages == 5


class AckLostOnce(DurableConsumer):
    """Commits the first delivery, then behaves as if it crashed before the ack (the message comes back)."""

    crashed: set[str]

    async def _ack(self, msg) -> None:  # type: ignore[no-untyped-def]
        event_id = msg.headers["Nats-Msg-Id"]
        if event_id not in self.crashed:
            self.crashed.add(event_id)
            await msg.nak()
            return
        await super()._ack(msg)


async def test_consumer_applies_each_event_once_and_dead_letters_poison(bus: Bus) -> None:
    calls: list[str] = []
    committed: list[str] = []

    async def handler(conn: AsyncConnection, message: lead_events_pb2.LeadAssigned, meta: EventMeta) -> None:
        calls.append(message.lead_id)
        after_commit(conn, lambda: committed.append(message.lead_id))
        if message.lead_id == "poison":
            raise ValueError("cannot apply")
        await record_effect(conn, message, meta)

    consumer = AckLostOnce(
        ConsumerSpec("test-lead-assigned", "crm.lead.assigned", handler),
        db=bus.db,
        inbox=bus.inbox,
        js=bus.js,
        max_deliver=3,
    )
    consumer.crashed = {"p-1"}  # the poison message goes through the normal path
    for lead_id, msg_id in (("a", "a-1"), ("poison", "p-1"), ("b", "b-1")):
        await bus.js.publish(
            "crm.lead.assigned", _assigned(lead_id).SerializeToString(), headers={"Nats-Msg-Id": msg_id}
        )
    dlq = await bus.js.pull_subscribe(dead_letter_subject("test-lead-assigned"), durable="t-dlq")
    dead: list = []

    async def settled() -> bool:
        with contextlib.suppress(Exception):
            dead.extend(await dlq.fetch(1, timeout=0.2))
        async with bus.db.connect() as conn:
            done = await conn.scalar(select(func.count()).select_from(bus.inbox))
        return bool(dead) and done == 2

    await _run(consumer, until=settled, within=30)
    # a and b were each delivered twice (the first ack was "lost"), and shared a batch with the poison
    # message (rolled back, then applied one by one), yet their effect was committed once.
    assert await effects(bus) == ["a", "b"]
    # What must happen once per applied event (metrics, wake-ups) waits for the commit.
    assert sorted(committed) == ["a", "b"]
    assert calls.count("poison") == 3
    assert dead[0].headers["Crm-Original-Subject"] == "crm.lead.assigned"
    assert dead[0].headers["Crm-Deliveries"] == "3"
    assert "cannot apply" in dead[0].headers["Crm-Error"]


async def test_a_batch_is_one_transaction_and_a_repeated_event_in_it_runs_once(bus: Bus) -> None:
    transactions: set[int] = set()

    async def handler(conn: AsyncConnection, message: lead_events_pb2.LeadAssigned, meta: EventMeta) -> None:
        transactions.add(await conn.scalar(text("SELECT txid_current()")))
        await record_effect(conn, message, meta)

    consumer = DurableConsumer(
        ConsumerSpec("test-batch", "crm.lead.assigned", handler), db=bus.db, inbox=bus.inbox, js=bus.js, max_deliver=3
    )
    # The same event twice (a dead-letter replay keeps Crm-Event-Id under a new Nats-Msg-Id), then another.
    for lead_id, headers in (
        ("x", {"Nats-Msg-Id": "x-1"}),
        ("x", {"Nats-Msg-Id": "replay:1", "Crm-Event-Id": "x-1"}),
        ("y", {"Nats-Msg-Id": "y-1"}),
    ):
        await bus.js.publish("crm.lead.assigned", _assigned(lead_id).SerializeToString(), headers=headers)
    await consumer.subscribe()
    sub = await bus.js.pull_subscribe("crm.lead.assigned", durable="test-batch")
    msgs = await sub.fetch(10, timeout=2)
    assert len(msgs) == 3
    await consumer.handle_batch(msgs)
    assert await effects(bus) == ["x", "y"]
    assert len(transactions) == 1
    info = await bus.js.consumer_info("CRM_LEAD", "test-batch")
    assert (info.num_ack_pending, info.num_pending) == (0, 0)


async def test_order_by_applies_a_batch_in_key_order(bus: Bus) -> None:
    seen: list[str] = []

    async def handler(conn: AsyncConnection, message: lead_events_pb2.LeadAssigned, meta: EventMeta) -> None:
        seen.append(message.lead_id)

    spec = ConsumerSpec("test-ordered", "crm.lead.assigned", handler, order_by=lambda m: m.lead_id)
    consumer = DurableConsumer(spec, db=bus.db, inbox=bus.inbox, js=bus.js, max_deliver=3)
    for lead_id in ("c", "a", "b"):
        await bus.js.publish(
            "crm.lead.assigned", _assigned(lead_id).SerializeToString(), headers={"Nats-Msg-Id": lead_id}
        )
    await consumer.subscribe()
    sub = await bus.js.pull_subscribe("crm.lead.assigned", durable="test-ordered")
    await consumer.handle_batch(await sub.fetch(10, timeout=2))
    assert seen == ["a", "b", "c"]


async def test_an_operator_lists_and_replays_dead_letters(bus: Bus) -> None:
    healthy = False
    applied: list[str] = []

    async def handler(conn: AsyncConnection, message: lead_events_pb2.LeadAssigned, meta: EventMeta) -> None:
        if not healthy:
            raise ValueError("downstream broken")
        applied.append(meta.event_id)

    def consumer() -> DurableConsumer:
        spec = ConsumerSpec("test-replay", "crm.lead.assigned", handler)
        return DurableConsumer(spec, db=bus.db, inbox=bus.inbox, js=bus.js, max_deliver=2)

    await bus.js.publish("crm.lead.assigned", _assigned("r").SerializeToString(), headers={"Nats-Msg-Id": "ev-1"})

    async def dead_lettered() -> bool:
        return len(await list_dead_letters(bus.js, "test-replay")) == 1

    await _run(consumer(), until=dead_lettered, within=20)
    [letter] = await list_dead_letters(bus.js, "test-replay")
    assert (letter.event_id, letter.subject, letter.deliveries) == ("ev-1", "crm.lead.assigned", "2")
    assert "downstream broken" in letter.error

    healthy = True
    assert await replay(bus.js, "test-replay") == 1
    assert await list_dead_letters(bus.js, "test-replay") == []

    async def applied_once() -> bool:
        return applied == ["ev-1"]

    await _run(consumer(), until=applied_once, within=20)


async def test_trace_context_flows_from_producer_to_consumer(bus: Bus) -> None:
    trace.set_tracer_provider(_provider)
    SPANS.clear()
    seen: list[str] = []

    async def handler(conn: AsyncConnection, message: lead_events_pb2.LeadAssigned, meta: EventMeta) -> None:
        seen.append(format(trace.get_current_span().get_span_context().trace_id, "032x"))

    with tracer.start_as_current_span("capture") as span:
        origin = format(span.get_span_context().trace_id, "032x")
        async with bus.db.transaction() as conn:
            await stage_event(conn, bus.outbox, "crm.lead.assigned", _assigned("traced"))
    relay = OutboxRelay(db=bus.db, outbox=bus.outbox, js=bus.js, libpq_url=bus.libpq_url, poll_seconds=0.1)
    relay_task = asyncio.create_task(relay.run())
    consumer = DurableConsumer(
        ConsumerSpec("test-traced", "crm.lead.assigned", handler), db=bus.db, inbox=bus.inbox, js=bus.js, max_deliver=3
    )

    async def handled() -> bool:
        return bool(seen)

    try:
        await _run(consumer, until=handled)
    finally:
        relay.stop()
        await asyncio.wait_for(relay_task, 5)
    assert seen == [origin]
    kinds = {s.name: s for s in SPANS.get_finished_spans()}
    assert kinds["process crm.lead.assigned"].parent.span_id == kinds["publish crm.lead.assigned"].context.span_id
