"""What a notification says and how it is keyed: plain functions, no I/O."""

from __future__ import annotations

import random
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from crm.events.v1 import lead_events_pb2
from crm.notification.v1 import notification_pb2
from notification.templates import Rendered

PLACEHOLDER = "—"
LEAD_ASSIGNED = "lead_assigned"
LEAD_ESCALATED = "lead_escalated"
LEAD_REASSIGNED = "lead_reassigned"
LEAD_POOL_WARNING = "lead_pool_warning"
DELIVERY_ESCALATED = "delivery_escalated"
IN_APP = "in_app"
MANAGER_STEP = "manager"

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


def shown(value: str) -> str:
    """A field as the reader sees it: blanks become a placeholder instead of breaking the sentence."""
    value = " ".join(value.split())
    return value or PLACEHOLDER


def render_lead_assigned(event: lead_events_pb2.LeadAssigned) -> Rendered:
    """Tell the assignee which lead is now theirs; never fails, whatever the event leaves empty."""
    return render_lead_assigned_values(lead_name=event.lead_name, company=event.company, channel=event.channel)


def render_lead_assigned_values(*, lead_name: str, company: str, channel: str) -> Rendered:
    """The built-in lead-assigned text (a saved `lead_assigned` template replaces it)."""
    name, company, channel = shown(lead_name), shown(company), shown(channel)
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


def parse_clock(value: str) -> time | None:
    """ "HH:MM" as a time of day; None for blank; ValueError for anything else."""
    value = value.strip()
    if not value:
        return None
    hours, _, minutes = value.partition(":")
    if not (hours.isdigit() and minutes.isdigit() and len(minutes) == 2):
        raise ValueError(f"{value!r} is not HH:MM")
    return time(int(hours), int(minutes))


def quiet_until(now: datetime, *, start: str, end: str, time_zone: str) -> datetime | None:
    """When the recipient's quiet hours around `now` end, or None when `now` is not in them."""
    try:
        begin, finish = parse_clock(start), parse_clock(end)
        zone = ZoneInfo(time_zone or "UTC")
    except (ValueError, ZoneInfoNotFoundError):
        return None
    if begin is None or finish is None or begin == finish:
        return None
    local = now.astimezone(zone)
    clock = local.time().replace(second=0, microsecond=0, tzinfo=None)
    overnight = begin > finish
    inside = (clock >= begin or clock < finish) if overnight else (begin <= clock < finish)
    if not inside:
        return None
    end_day = local.date() + timedelta(days=1) if overnight and clock >= begin else local.date()
    return datetime.combine(end_day, finish, tzinfo=zone)


def backoff_seconds(attempt: int, *, base: float, cap: float, jitter: float) -> float:
    """Exponential backoff with jitter: base·2^(attempt-1), capped, scaled by a factor in [1-jitter/2, 1+jitter/2)."""
    delay = min(cap, base * 2 ** max(attempt - 1, 0))
    return delay * (1 - jitter / 2 + jitter * random.random())
