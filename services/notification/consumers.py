"""Event consumers: a lead assigned to a rep becomes a notification to that rep."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial

from google.protobuf.message import Message
from sqlalchemy.ext.asyncio import AsyncConnection

from crm.events.v1 import lead_events_pb2
from crm_common.bus.consumer import ConsumerSpec, EventMeta
from crm_common.service import Runtime
from notification import domain
from notification.channels import ChannelAdapter
from notification.delivery import NotificationRequest, notify


async def notify_assignee(
    conn: AsyncConnection,
    event: Message,
    meta: EventMeta,
    *,
    runtime: Runtime,
    adapters: Mapping[str, ChannelAdapter],
    channel: str,
) -> None:
    """Tell the assignee of a lead, exactly once per LeadAssigned event.

    The idempotency key is the event id (plus channel), not the lead: a redelivered or replayed event
    changes nothing, while a new assignment event for the same lead (say, reassigned to the same rep
    after a return to the pool) is news and notifies again.
    """
    if not isinstance(event, lead_events_pb2.LeadAssigned):
        raise TypeError(f"expected LeadAssigned, got {type(event).__name__}")
    rendered = domain.render_lead_assigned(event)
    request = NotificationRequest(
        idempotency_key=domain.idempotency_key(meta.event_id, channel),
        recipient_id=event.assignee_id,
        channel=channel,
        lead_id=event.lead_id,
        kind=domain.LEAD_ASSIGNED,
        title=rendered.title,
        body=rendered.body,
    )
    await notify(
        conn,
        request,
        adapter=adapters.get(channel),
        stage=runtime.stage,
        last_chance=meta.delivery >= runtime.settings.max_deliver,
    )


def consumer_specs(runtime: Runtime, adapters: Mapping[str, ChannelAdapter], *, channel: str) -> list[ConsumerSpec]:
    """The durable consumers of this service."""
    return [
        ConsumerSpec(
            durable="notification-lead-assigned",
            subject="crm.lead.assigned",
            handler=partial(notify_assignee, runtime=runtime, adapters=adapters, channel=channel),
        )
    ]
