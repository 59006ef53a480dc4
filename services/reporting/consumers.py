"""Lead events projected into lead_response; each consumer writes only the columns its event knows."""

from __future__ import annotations

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


CONSUMERS = [
    ConsumerSpec(durable="reporting-lead-captured", subject=LEAD_CAPTURED, handler=project_captured),
    ConsumerSpec(durable="reporting-lead-assigned", subject=LEAD_ASSIGNED, handler=project_assigned),
    ConsumerSpec(durable="reporting-lead-contacted", subject=LEAD_CONTACTED, handler=project_contacted),
]
