"""What a notification says and how it is keyed: plain functions, no I/O."""

from __future__ import annotations

from dataclasses import dataclass

from crm.events.v1 import lead_events_pb2
from crm.notification.v1 import notification_pb2

PLACEHOLDER = "—"
LEAD_ASSIGNED = "lead_assigned"

# The text statuses stored in the notifications table.
PENDING = "pending"
SENT = "sent"
DELIVERED = "delivered"
RETRYING = "retrying"
FAILED = "failed"
ESCALATED = "escalated"

STATUS_TO_PROTO: dict[str, notification_pb2.NotificationStatus.ValueType] = {
    PENDING: notification_pb2.NOTIFICATION_STATUS_PENDING,
    SENT: notification_pb2.NOTIFICATION_STATUS_SENT,
    DELIVERED: notification_pb2.NOTIFICATION_STATUS_DELIVERED,
    RETRYING: notification_pb2.NOTIFICATION_STATUS_RETRYING,
    FAILED: notification_pb2.NOTIFICATION_STATUS_FAILED,
    ESCALATED: notification_pb2.NOTIFICATION_STATUS_ESCALATED,
}


@dataclass(frozen=True)
class Rendered:
    """The title and body of one notification."""

    title: str
    body: str


def shown(value: str) -> str:
    """A field as the reader sees it: blanks become a placeholder instead of breaking the sentence."""
    value = " ".join(value.split())
    return value or PLACEHOLDER


def render_lead_assigned(event: lead_events_pb2.LeadAssigned) -> Rendered:
    """Tell the assignee which lead is now theirs; never fails, whatever the event leaves empty."""
    name, company, channel = shown(event.lead_name), shown(event.company), shown(event.channel)
    title = f"New lead assigned: {name}" + (f" ({company})" if company != PLACEHOLDER else "")
    body = (
        f"Lead: {name}\n"
        f"Company: {company}\n"
        f"Channel: {channel}\n"
        "Please claim it and make the first contact."
    )
    return Rendered(title=title, body=body)


def idempotency_key(event_id: str, channel: str) -> str:
    """One notification per triggering event and channel."""
    return f"{event_id}:{channel}"


def status_to_proto(status: str) -> notification_pb2.NotificationStatus.ValueType:
    """The contract's enum for a stored status (UNSPECIFIED for a status this version does not know)."""
    return STATUS_TO_PROTO.get(status, notification_pb2.NOTIFICATION_STATUS_UNSPECIFIED)
