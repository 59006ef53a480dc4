"""Access under load: lead owners learnt in batches that never deadlock, and one audit publish per answer."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import select

from crm.customer.v1 import customer_pb2
from crm.events.v1 import lead_events_pb2
from crm_common.audit import STREAM, audit_of, read_chain, verify
from crm_common.bus.consumer import ConsumerSpec, EventMeta
from crm_common.identity import Principal, Role, acting_as
from crm_common.service import Runtime
from customer_master import access
from customer_master.handlers import CustomerServicer
from customer_master.tests.test_stewardship import phone, unique_name

ADMIN = Principal(subject="user:admin", role=Role.ADMIN)
SPECS = {spec.subject: spec for spec in access.CONSUMERS}


def _meta(at: datetime) -> EventMeta:
    return EventMeta(event_id=uuid.uuid4().hex, subject="crm.lead.x", published_at=at, delivery=1)


def _stamp(at: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(at)
    return stamp


async def _apply(runtime: Runtime, spec: ConsumerSpec, events: Sequence[tuple[Message, EventMeta]]) -> None:
    """Apply a fetched batch in one transaction as the durable consumer does (its order, then its batch handler)."""
    batch = list(events)
    if spec.order_by is not None:
        order_by = spec.order_by
        batch.sort(key=lambda event: order_by(event[0]))
    async with runtime.db.transaction() as conn:
        if spec.batch_handler is not None:
            await spec.batch_handler(conn, batch)
        else:
            for message, meta in batch:
                await spec.handler(conn, message, meta)


async def test_batches_naming_the_same_leads_in_opposite_orders_apply_without_deadlock(runtime: Runtime) -> None:
    customer_id, now = str(uuid.uuid4()), datetime.now(UTC)
    leads = [uuid.uuid4().hex for _ in range(60)]
    captured = [(lead_events_pb2.LeadCaptured(lead_id=lead, customer_id=customer_id), _meta(now)) for lead in leads]
    assigned = [
        (lead_events_pb2.LeadAssigned(lead_id=lead, assignee_id="rep-x", team_id="team-x"), _meta(now))
        for lead in reversed(leads)
    ]
    # Two consumers' transactions at once, each naming every lead, one forwards and one backwards (a deadlock
    # when each row is written by a statement of its own in the batch's order).
    for _ in range(3):
        await asyncio.gather(
            _apply(runtime, SPECS["crm.lead.captured"], captured), _apply(runtime, SPECS["crm.lead.assigned"], assigned)
        )
    async with runtime.db.connect() as conn:
        rows = list(await conn.execute(select(access.lead_owners).where(access.lead_owners.c.lead_id.in_(leads))))
    assert len(rows) == len(leads)
    assert {(str(r.customer_id), r.rep_id, r.team_id) for r in rows} == {(customer_id, "rep-x", "team-x")}


async def test_a_batch_leaves_what_its_events_one_by_one_would(runtime: Runtime) -> None:
    lead, now = uuid.uuid4().hex, datetime.now(UTC)
    earlier, later = now - timedelta(minutes=5), now
    events = [
        (lead_events_pb2.LeadReassigned(lead_id=lead, to_rep_id="rep-new", at=_stamp(later)), _meta(now)),
        # Delivered after the newer one: changes nothing, in a batch or alone.
        (lead_events_pb2.LeadReassigned(lead_id=lead, to_rep_id="rep-old", at=_stamp(earlier)), _meta(now)),
    ]
    other = uuid.uuid4().hex
    events.append((lead_events_pb2.LeadReassigned(lead_id=other, to_rep_id="rep-z", at=_stamp(earlier)), _meta(now)))
    await _apply(runtime, SPECS["crm.lead.reassigned"], events)
    async with runtime.db.connect() as conn:
        rows = {r.lead_id: r.rep_id for r in await conn.execute(select(access.lead_owners))}
    assert rows[lead] == "rep-new" and rows[other] == "rep-z"
    # A customer named twice in one batch (captured, then resolved to another): the last one stays.
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    twice = [
        (lead_events_pb2.LeadCaptured(lead_id=lead, customer_id=first), _meta(now)),
        (lead_events_pb2.LeadCaptured(lead_id=lead, customer_id=second), _meta(now)),
    ]
    await _apply(runtime, SPECS["crm.lead.captured"], twice)
    async with runtime.db.connect() as conn:
        row = (await conn.execute(select(access.lead_owners).where(access.lead_owners.c.lead_id == lead))).one()
    assert (str(row.customer_id), row.rep_id) == (second, "rep-new")


async def _messages(runtime: Runtime, subject: str) -> int:
    """How many messages the audit stream holds on one chain's subject."""
    info = await runtime.js.stream_info(STREAM, subjects_filter=subject)  # type: ignore[union-attr]
    return (info.state.subjects or {}).get(subject, 0)


async def test_a_match_with_many_candidates_is_audited_in_one_publish(runtime: Runtime) -> None:
    servicer = CustomerServicer(runtime)
    core = unique_name()
    for trade in ("科技", "物流", "医药", "能源"):
        await servicer.ResolveCustomer(
            customer_pb2.ResolveCustomerRequest(company=f"{core}{trade}有限公司", name="李雷", phone=phone()), None
        )
    audit = audit_of(runtime)
    with acting_as(ADMIN):
        # The first read declares the stream; the count is taken after it.
        await servicer.MatchCustomer(customer_pb2.MatchCustomerRequest(company=f"{core}科技有限公司", limit=1), None)
        before_messages, before_entries = await _messages(runtime, audit.subject), audit._index
        found = (await servicer.MatchCustomer(customer_pb2.MatchCustomerRequest(company=core), None)).candidates
    shown = [c.customer.id for c in found if c.customer.phone]
    assert len(shown) >= 2
    assert await _messages(runtime, audit.subject) == before_messages + 1
    entries = await read_chain(runtime.js, audit.chain)  # type: ignore[arg-type]
    assert [e.record_id for e in entries[before_entries:]] == shown
    assert all(e.fields == ("phone",) and e.subject == ADMIN.subject for e in entries[before_entries:])
    assert verify(entries) == []
