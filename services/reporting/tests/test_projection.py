"""lead_response is the same whatever order the lead events arrive in; through the real JetStream too."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import UTC, datetime, timedelta

from google.protobuf.message import Message

from crm.events.v1 import lead_events_pb2
from crm_common.bus.consumer import DurableConsumer, EventMeta
from crm_common.service import Runtime
from reporting import repository
from reporting.app import DEFINITION
from reporting.consumers import (
    CONSUMERS,
    project_assigned,
    project_assigned_batch,
    project_captured,
    project_captured_batch,
    project_contacted,
    project_contacted_batch,
)
from reporting.convert import to_timestamp

CAPTURED = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
ASSIGNED = CAPTURED + timedelta(seconds=12)
CONTACTED = CAPTURED + timedelta(minutes=7)


def _captured(lead_id: str) -> lead_events_pb2.LeadCaptured:
    return lead_events_pb2.LeadCaptured(lead_id=lead_id, channel="web", captured_at=to_timestamp(CAPTURED))


def _assigned(lead_id: str, at: datetime = ASSIGNED) -> lead_events_pb2.LeadAssigned:
    return lead_events_pb2.LeadAssigned(
        lead_id=lead_id,
        assignee_id="rep",
        channel="web",
        captured_at=to_timestamp(CAPTURED),
        assigned_at=to_timestamp(at),
    )


def _contacted(lead_id: str, *, first: bool = True, at: datetime = CONTACTED) -> lead_events_pb2.LeadContacted:
    return lead_events_pb2.LeadContacted(
        lead_id=lead_id,
        rep_id="rep",
        channel="phone",
        first_contact=first,
        captured_at=to_timestamp(CAPTURED),
        contacted_at=to_timestamp(at),
    )


async def _project(runtime: Runtime, message: Message) -> None:
    handler = {
        lead_events_pb2.LeadCaptured: project_captured,
        lead_events_pb2.LeadAssigned: project_assigned,
        lead_events_pb2.LeadContacted: project_contacted,
    }[type(message)]
    meta = EventMeta(event_id=str(uuid.uuid4()), subject="", published_at=datetime.now(UTC), delivery=1)
    async with runtime.db.transaction() as conn:
        await handler(conn, message, meta)  # type: ignore[arg-type]


async def _row(runtime: Runtime, lead_id: str):  # type: ignore[no-untyped-def]
    async with runtime.db.connect() as conn:
        return await repository.get_lead_response(conn, lead_id=lead_id)


def _facts(row) -> tuple:  # type: ignore[no-untyped-def]
    return (row.channel, row.captured_at, row.assigned_at, row.first_contact_at)


async def test_every_order_gives_the_same_row(runtime: Runtime) -> None:
    orders = [
        ("captured", "assigned", "contacted"),
        ("contacted", "captured", "assigned"),
        ("contacted", "assigned", "captured"),
        ("assigned", "contacted", "captured"),
    ]
    for order in orders:
        lead_id = str(uuid.uuid4())
        make = {"captured": _captured, "assigned": _assigned, "contacted": _contacted}
        for name in order:
            await _project(runtime, make[name](lead_id))
        assert _facts(await _row(runtime, lead_id)) == ("web", CAPTURED, ASSIGNED, CONTACTED), order


async def test_contacted_before_captured_keeps_the_capture_authoritative(runtime: Runtime) -> None:
    lead_id = str(uuid.uuid4())
    contact = _contacted(lead_id)
    contact.ClearField("captured_at")
    await _project(runtime, contact)
    row = await _row(runtime, lead_id)
    assert (row.captured_at, row.first_contact_at, row.channel) == (None, CONTACTED, None)
    await _project(runtime, _captured(lead_id))
    assert _facts(await _row(runtime, lead_id)) == ("web", CAPTURED, None, CONTACTED)


async def test_only_the_first_contact_and_the_earliest_assignment_count(runtime: Runtime) -> None:
    lead_id = str(uuid.uuid4())
    await _project(runtime, _captured(lead_id))
    await _project(runtime, _contacted(lead_id, first=False, at=CONTACTED - timedelta(minutes=1)))
    assert (await _row(runtime, lead_id)).first_contact_at is None
    await _project(runtime, _assigned(lead_id, at=ASSIGNED + timedelta(hours=1)))
    await _project(runtime, _assigned(lead_id, at=ASSIGNED))
    await _project(runtime, _contacted(lead_id))
    await _project(runtime, _contacted(lead_id, at=CONTACTED + timedelta(hours=1)))
    assert _facts(await _row(runtime, lead_id)) == ("web", CAPTURED, ASSIGNED, CONTACTED)


async def test_a_later_contact_alone_projects_nothing(runtime: Runtime) -> None:
    lead_id = str(uuid.uuid4())
    await _project(runtime, _contacted(lead_id, first=False))
    assert await _row(runtime, lead_id) is None


async def test_projection_through_jetstream(runtime: Runtime) -> None:
    assert runtime.js is not None
    consumers = [
        DurableConsumer(spec, db=runtime.db, inbox=DEFINITION.inbox, js=runtime.js, max_deliver=5) for spec in CONSUMERS
    ]
    tasks = [asyncio.create_task(c.run()) for c in consumers]
    lead_id = str(uuid.uuid4())
    try:
        # Published in the worst order: contact first, capture last.
        for subject, message in [
            ("crm.lead.contacted", _contacted(lead_id)),
            ("crm.lead.assigned", _assigned(lead_id)),
            ("crm.lead.captured", _captured(lead_id)),
        ]:
            await runtime.js.publish(subject, message.SerializeToString(), headers={"Nats-Msg-Id": str(uuid.uuid4())})
        for _ in range(200):
            row = await _row(runtime, lead_id)
            if row is not None and None not in _facts(row):
                break
            await asyncio.sleep(0.05)
        assert row is not None
        assert _facts(row) == ("web", CAPTURED, ASSIGNED, CONTACTED)
    finally:
        for c in consumers:
            c.stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.gather(*tasks), 5)


async def test_a_batch_projects_as_its_events_one_by_one(runtime: Runtime) -> None:
    # Per kind of event, in one batch: leads seen once, and leads seen twice or three times (re-deliveries
    # of a changed fact, assignments told twice), so the batch needs more than one statement.
    later = timedelta(minutes=3)

    def captured(lead: str, channel: str, at: datetime | None) -> lead_events_pb2.LeadCaptured:
        return lead_events_pb2.LeadCaptured(lead_id=lead, channel=channel, captured_at=to_timestamp(at) if at else None)

    plans = {
        project_captured_batch: [
            ("once", _captured),
            ("twice", _captured),
            ("twice", lambda lead: captured(lead, "", CAPTURED + later)),
            ("thrice", lambda lead: captured(lead, "phone", None)),
            ("thrice", _captured),
            ("thrice", lambda lead: captured(lead, "chat", CAPTURED)),
        ],
        project_assigned_batch: [
            ("twice", lambda lead: _assigned(lead, at=ASSIGNED + later)),
            ("once", _assigned),
            ("twice", _assigned),
            ("thrice", lambda lead: lead_events_pb2.LeadAssigned(lead_id=lead, assigned_at=to_timestamp(ASSIGNED))),
        ],
        project_contacted_batch: [
            ("once", lambda lead: _contacted(lead, first=False)),
            ("twice", _contacted),
            ("twice", lambda lead: _contacted(lead, at=CONTACTED - later)),
            ("thrice", _contacted),
        ],
    }
    one_by_one = {name: str(uuid.uuid4()) for name in ("once", "twice", "thrice")}
    batched = {name: str(uuid.uuid4()) for name in ("once", "twice", "thrice")}
    for batch_handler, plan in plans.items():
        for name, make in plan:
            await _project(runtime, make(one_by_one[name]))
        meta = EventMeta(event_id="", subject="", published_at=datetime.now(UTC), delivery=1)
        async with runtime.db.transaction() as conn:
            await batch_handler(conn, [(make(batched[name]), meta) for name, make in plan])  # type: ignore[arg-type]
    for name in one_by_one:
        expected, got = await _row(runtime, one_by_one[name]), await _row(runtime, batched[name])
        assert expected is not None and got is not None
        assert _facts(got) == _facts(expected), name


async def test_projection_of_batches_through_jetstream(runtime: Runtime) -> None:
    assert runtime.js is not None
    leads = [str(uuid.uuid4()) for _ in range(5)]
    for lead_id in leads:
        for subject, message in [("crm.lead.assigned", _assigned(lead_id)), ("crm.lead.captured", _captured(lead_id))]:
            await runtime.js.publish(subject, message.SerializeToString(), headers={"Nats-Msg-Id": str(uuid.uuid4())})
    # A projection that cannot be made (no lead) is left to its own message; its batch-mates are applied.
    await runtime.js.publish(
        "crm.lead.captured", lead_events_pb2.LeadCaptured(channel="web").SerializeToString(),
        headers={"Nats-Msg-Id": str(uuid.uuid4())},
    )
    consumers = [
        DurableConsumer(spec, db=runtime.db, inbox=DEFINITION.inbox, js=runtime.js, max_deliver=5) for spec in CONSUMERS
    ]
    for consumer in consumers:
        if consumer.spec.subject != "crm.lead.contacted":
            await consumer.subscribe()
            sub = await runtime.js.pull_subscribe(consumer.spec.subject, durable=consumer.spec.durable)
            msgs = [m for m in await sub.fetch(64, timeout=2) if m.subject == consumer.spec.subject]
            await consumer.handle_batch(msgs)
    for lead_id in leads:
        row = await _row(runtime, lead_id)
        assert row is not None and _facts(row) == ("web", CAPTURED, ASSIGNED, None)
