"""Events the lead service consumes: what happened to its leads elsewhere, kept on the lead's timeline."""

from __future__ import annotations

from datetime import UTC

from sqlalchemy.ext.asyncio import AsyncConnection

from crm.events.v1 import notification_events_pb2, pipeline_events_pb2
from crm_common.bus.consumer import ConsumerSpec, EventMeta
from lead import records
from lead.ownership import repository as ownership_repo


async def on_notification_delivered(
    conn: AsyncConnection, message: notification_events_pb2.NotificationDelivered, meta: EventMeta
) -> None:
    """The assignee was told: add `notified` to the lead's timeline (once per delivery event)."""
    lead_id = records.parse_id(message.lead_id)
    if lead_id is None:
        return
    at = message.delivered_at.ToDatetime(tzinfo=UTC) if message.HasField("delivered_at") else meta.published_at
    await records.add_timeline_if_lead(conn, lead_id=lead_id, step="notified", at=at, detail=message.channel)


async def on_opportunity_opened(
    conn: AsyncConnection, message: pipeline_events_pb2.OpportunityOpened, meta: EventMeta
) -> None:
    """The lead became an opportunity: it stops counting against its owner's capacity and its clock stops."""
    lead_id = records.parse_id(message.lead_id)
    if lead_id is None or await records.get_lead(conn, lead_id=lead_id) is None:
        return
    at = message.opened_at.ToDatetime(tzinfo=UTC) if message.HasField("opened_at") else meta.published_at
    await ownership_repo.set_converted(conn, lead_id=lead_id, at=at)
    await records.add_timeline(conn, lead_id=lead_id, step="converted", at=at, detail=message.opportunity_id)


CONSUMERS = [
    ConsumerSpec("lead-notification-delivered", "crm.notification.delivered", on_notification_delivered),
    ConsumerSpec("lead-opportunity-opened", "crm.pipeline.opportunity_opened", on_opportunity_opened),
]
