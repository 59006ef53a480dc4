"""A lead's first contact opens one opportunity: the handler on PostgreSQL, then through the real JetStream."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest
from nats.aio.msg import Msg
from prometheus_client import REGISTRY

from crm.events.v1 import lead_events_pb2, pipeline_events_pb2
from crm_common.bus.consumer import DurableConsumer, EventMeta
from crm_common.service import Runtime
from pipeline import repository
from pipeline.app import DEFINITION
from pipeline.consumers import LEAD_CONTACTED, lead_contacted_consumer
from pipeline.convert import to_timestamp

CONTACTED_AT = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def _contacted(lead_id: str, *, first: bool = True, rep: str = "rep-1") -> lead_events_pb2.LeadContacted:
    return lead_events_pb2.LeadContacted(
        lead_id=lead_id,
        rep_id=rep,
        channel="phone",
        first_contact=first,
        customer_id="cust-1",
        captured_at=to_timestamp(CONTACTED_AT - timedelta(minutes=5)),
        contacted_at=to_timestamp(CONTACTED_AT),
    )


def _meta() -> EventMeta:
    return EventMeta(event_id=str(uuid.uuid4()), subject=LEAD_CONTACTED, published_at=datetime.now(UTC), delivery=1)


def _opened_total() -> float:
    return REGISTRY.get_sample_value("crm_opportunities_opened_total") or 0.0


async def _apply(runtime: Runtime, message: lead_events_pb2.LeadContacted) -> None:
    handler = lead_contacted_consumer(runtime).handler
    async with runtime.db.transaction() as conn:
        await handler(conn, message, _meta())


async def _opportunities_of(runtime: Runtime, lead_id: str) -> list:
    async with runtime.db.connect() as conn:
        return await repository.list_opportunities(conn, lead_id=lead_id)


async def test_first_contact_opens_one_opportunity_in_the_first_stage(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="pipeline")
    lead_id = str(uuid.uuid4())
    before = _opened_total()
    await _apply(runtime, _contacted(lead_id, rep="rep-42"))
    [opportunity] = await _opportunities_of(runtime, lead_id)
    assert (opportunity.stage, opportunity.owner_id, opportunity.customer_id) == ("qualification", "rep-42", "cust-1")
    assert opportunity.opened_at == CONTACTED_AT
    assert _opened_total() == before + 1
    assert [r.lead_id for r in caplog.records if r.getMessage() == "opportunity opened"] == [lead_id]
    async with runtime.db.connect() as conn:
        history = await repository.list_stage_history(conn, opportunity_id=opportunity.id)
    assert [(h.stage, h.at) for h in history] == [("qualification", CONTACTED_AT)]


async def test_a_second_first_contact_changes_nothing(runtime: Runtime, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="pipeline")
    lead_id = str(uuid.uuid4())
    await _apply(runtime, _contacted(lead_id, rep="rep-1"))
    before = _opened_total()
    await _apply(runtime, _contacted(lead_id, rep="rep-2"))
    [opportunity] = await _opportunities_of(runtime, lead_id)
    assert opportunity.owner_id == "rep-1"
    assert _opened_total() == before


async def test_a_later_contact_opens_nothing(runtime: Runtime) -> None:
    lead_id = str(uuid.uuid4())
    await _apply(runtime, _contacted(lead_id, first=False))
    assert await _opportunities_of(runtime, lead_id) == []


async def _wait_for(condition: Callable[[], Awaitable[bool]]) -> None:
    """Poll a condition that another task (the consumer) makes true, for up to 10 s."""
    for _ in range(200):
        if await condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met within 10 s")


async def test_through_jetstream_once_even_when_redelivered(runtime: Runtime) -> None:
    assert runtime.js is not None and runtime.nc is not None and runtime.relay is not None
    spec = lead_contacted_consumer(runtime)
    consumer = DurableConsumer(
        spec, db=runtime.db, inbox=DEFINITION.inbox, js=runtime.js, max_deliver=5, on_committed=runtime.relay.wake
    )
    opened: asyncio.Queue[Msg] = asyncio.Queue()

    async def on_opened(msg: Msg) -> None:
        await opened.put(msg)

    events_sub = await runtime.nc.subscribe("crm.pipeline.opportunity_opened", cb=on_opened)
    task = asyncio.create_task(consumer.run())
    lead_id, event_id = str(uuid.uuid4()), str(uuid.uuid4())
    try:
        payload = _contacted(lead_id).SerializeToString()
        await runtime.js.publish(LEAD_CONTACTED, payload, headers={"Nats-Msg-Id": event_id})

        async def opened_once() -> bool:
            return len(await _opportunities_of(runtime, lead_id)) == 1

        await _wait_for(opened_once)
        [opportunity] = await _opportunities_of(runtime, lead_id)

        event = pipeline_events_pb2.OpportunityOpened()
        async with asyncio.timeout(10):
            while event.lead_id != lead_id:
                event.ParseFromString((await opened.get()).data)
        assert (event.opportunity_id, event.stage, event.owner_id) == (str(opportunity.id), "qualification", "rep-1")

        # The same event delivered again (as after a lost ack) is recognised by its id and changes nothing.
        replay = await runtime.js.pull_subscribe(
            LEAD_CONTACTED, durable=f"replay-{uuid.uuid4().hex[:8]}", stream="CRM_LEAD"
        )
        again = next(m for m in await replay.fetch(100, timeout=5) if (m.headers or {}).get("Nats-Msg-Id") == event_id)
        labels = {"consumer": spec.durable, "outcome": "duplicate"}
        duplicates = REGISTRY.get_sample_value("crm_events_consumed_total", labels) or 0.0
        await consumer.handle(again)
        assert REGISTRY.get_sample_value("crm_events_consumed_total", labels) == duplicates + 1
        await replay.unsubscribe()

        # A different event for the same lead (the lead service retried with a new id) changes nothing either.
        await runtime.js.publish(LEAD_CONTACTED, payload, headers={"Nats-Msg-Id": str(uuid.uuid4())})
        marker = str(uuid.uuid4())
        await runtime.js.publish(
            LEAD_CONTACTED, _contacted(marker).SerializeToString(), headers={"Nats-Msg-Id": str(uuid.uuid4())}
        )

        async def marker_opened() -> bool:
            return len(await _opportunities_of(runtime, marker)) == 1

        await _wait_for(marker_opened)
        assert [o.id for o in await _opportunities_of(runtime, lead_id)] == [opportunity.id]
    finally:
        consumer.stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 5)
        await events_sub.unsubscribe()
