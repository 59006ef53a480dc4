"""Lead events projected into lead_response; each consumer writes only the columns its event knows."""

from __future__ import annotations

from collections.abc import Sequence

from google.protobuf.message import Message
from sqlalchemy.ext.asyncio import AsyncConnection

from crm.events.v1 import lead_events_pb2
from crm_common.bus.consumer import ConsumerSpec, EventMeta
from reporting import repository
from reporting.convert import from_timestamp
from reporting.repository import Assigned, Captured, FirstContact

LEAD_CAPTURED = "crm.lead.captured"
LEAD_ASSIGNED = "crm.lead.assigned"
LEAD_CONTACTED = "crm.lead.contacted"


def _lead_id(lead_id: str) -> str:
    # An event without its lead cannot be projected; raising sends it to the dead letters for an operator.
    if not lead_id:
        raise ValueError("lead event without lead_id")
    return lead_id


def _captured(message: lead_events_pb2.LeadCaptured, meta: EventMeta) -> Captured:
    """A captured lead: its channel and capture time."""
    return Captured(
        lead_id=_lead_id(message.lead_id),
        channel=message.channel or None,
        captured_at=from_timestamp(message.captured_at) or meta.published_at,
    )


def _assigned(message: lead_events_pb2.LeadAssigned, meta: EventMeta) -> Assigned:
    """An assigned lead: its assignment time, and its capture facts when the capture was not seen yet."""
    return Assigned(
        lead_id=_lead_id(message.lead_id),
        channel=message.channel or None,
        captured_at=from_timestamp(message.captured_at),
        assigned_at=from_timestamp(message.assigned_at) or meta.published_at,
    )


def _first_contact(message: lead_events_pb2.LeadContacted, meta: EventMeta) -> FirstContact | None:
    """A first contact: its time; later contacts do not change the lead's response time (None)."""
    if not message.first_contact:
        return None
    # message.channel is the contact's channel (phone, chat...), not the lead's source channel: not projected.
    return FirstContact(
        lead_id=_lead_id(message.lead_id),
        captured_at=from_timestamp(message.captured_at),
        first_contact_at=from_timestamp(message.contacted_at) or meta.published_at,
    )


async def project_captured(conn: AsyncConnection, message: lead_events_pb2.LeadCaptured, meta: EventMeta) -> None:
    """A captured lead: its channel and capture time."""
    await repository.record_captured(conn, **_captured(message, meta)._asdict())


async def project_assigned(conn: AsyncConnection, message: lead_events_pb2.LeadAssigned, meta: EventMeta) -> None:
    """An assigned lead: its assignment time, and its capture facts when the capture was not seen yet."""
    await repository.record_assigned(conn, **_assigned(message, meta)._asdict())


async def project_contacted(conn: AsyncConnection, message: lead_events_pb2.LeadContacted, meta: EventMeta) -> None:
    """A first contact: its time; later contacts do not change the lead's response time."""
    facts = _first_contact(message, meta)
    if facts is not None:
        await repository.record_first_contact(conn, **facts._asdict())


async def project_captured_batch(
    conn: AsyncConnection, events: Sequence[tuple[lead_events_pb2.LeadCaptured, EventMeta]]
) -> None:
    """Captured leads of one batch, in one statement (one more per lead captured twice in it)."""
    await repository.record_many(conn, rows=[_captured(message, meta) for message, meta in events])


async def project_assigned_batch(
    conn: AsyncConnection, events: Sequence[tuple[lead_events_pb2.LeadAssigned, EventMeta]]
) -> None:
    """Assigned leads of one batch, in one statement (one more per lead assigned twice in it)."""
    await repository.record_many(conn, rows=[_assigned(message, meta) for message, meta in events])


async def project_contacted_batch(
    conn: AsyncConnection, events: Sequence[tuple[lead_events_pb2.LeadContacted, EventMeta]]
) -> None:
    """First contacts of one batch, in one statement; later contacts project nothing."""
    rows = [facts for message, meta in events if (facts := _first_contact(message, meta)) is not None]
    if rows:
        await repository.record_many(conn, rows=rows)


def _by_lead(message: Message) -> str:
    # The three consumers upsert the same rows in batches: one lock order, so they never deadlock each other.
    return getattr(message, "lead_id", "")


# A report half a second late changes nothing; gathering events that long makes one transaction (one inbox
# statement, one upsert, one commit) serve a batch of them: at 50 leads/s, some 25 per consumer instead of 5.
LINGER_SECONDS = 0.5

CONSUMERS = [
    ConsumerSpec(
        durable=durable,
        subject=subject,
        handler=handler,
        batch_handler=batch_handler,
        order_by=_by_lead,
        linger_seconds=LINGER_SECONDS,
    )
    for durable, subject, handler, batch_handler in (
        ("reporting-lead-captured", LEAD_CAPTURED, project_captured, project_captured_batch),
        ("reporting-lead-assigned", LEAD_ASSIGNED, project_assigned, project_assigned_batch),
        ("reporting-lead-contacted", LEAD_CONTACTED, project_contacted, project_contacted_batch),
    )
]
