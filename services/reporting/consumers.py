"""Lead events projected into lead_response; each consumer writes only the columns its event knows."""

from __future__ import annotations

from google.protobuf.message import Message
from sqlalchemy.ext.asyncio import AsyncConnection

from crm.events.v1 import lead_events_pb2
from crm_common.bus.consumer import ConsumerSpec, EventMeta
from reporting import repository
from reporting.convert import from_timestamp

LEAD_CAPTURED = "crm.lead.captured"
LEAD_ASSIGNED = "crm.lead.assigned"
LEAD_CONTACTED = "crm.lead.contacted"


def _lead_id(lead_id: str) -> str:
    # An event without its lead cannot be projected; raising sends it to the dead letters for an operator.
    if not lead_id:
        raise ValueError("lead event without lead_id")
    return lead_id


async def project_captured(conn: AsyncConnection, message: lead_events_pb2.LeadCaptured, meta: EventMeta) -> None:
    """A captured lead: its channel and capture time."""
    await repository.record_captured(
        conn,
        lead_id=_lead_id(message.lead_id),
        channel=message.channel or None,
        captured_at=from_timestamp(message.captured_at) or meta.published_at,
    )


async def project_assigned(conn: AsyncConnection, message: lead_events_pb2.LeadAssigned, meta: EventMeta) -> None:
    """An assigned lead: its assignment time, and its capture facts when the capture was not seen yet."""
    await repository.record_assigned(
        conn,
        lead_id=_lead_id(message.lead_id),
        channel=message.channel or None,
        captured_at=from_timestamp(message.captured_at),
        assigned_at=from_timestamp(message.assigned_at) or meta.published_at,
    )


async def project_contacted(conn: AsyncConnection, message: lead_events_pb2.LeadContacted, meta: EventMeta) -> None:
    """A first contact: its time; later contacts do not change the lead's response time."""
    if not message.first_contact:
        return
    # message.channel is the contact's channel (phone, chat...), not the lead's source channel: not projected.
    await repository.record_first_contact(
        conn,
        lead_id=_lead_id(message.lead_id),
        captured_at=from_timestamp(message.captured_at),
        first_contact_at=from_timestamp(message.contacted_at) or meta.published_at,
    )


def _by_lead(message: Message) -> str:
    # The three consumers upsert the same rows in batches: one lock order, so they never deadlock each other.
    return getattr(message, "lead_id", "")


# A report a tenth of a second late changes nothing; gathering events that long makes one transaction
# (one inbox statement, one commit) serve several of them.
LINGER_SECONDS = 0.1

CONSUMERS = [
    ConsumerSpec(
        durable=durable, subject=subject, handler=handler, order_by=_by_lead, linger_seconds=LINGER_SECONDS
    )
    for durable, subject, handler in (
        ("reporting-lead-captured", LEAD_CAPTURED, project_captured),
        ("reporting-lead-assigned", LEAD_ASSIGNED, project_assigned),
        ("reporting-lead-contacted", LEAD_CONTACTED, project_contacted),
    )
]
