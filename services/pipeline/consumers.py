"""Events pipeline consumes: a lead's first contact opens its opportunity."""

from __future__ import annotations

import logging
from datetime import UTC

from sqlalchemy.ext.asyncio import AsyncConnection

from crm.events.v1 import lead_events_pb2, pipeline_events_pb2
from crm_common.bus.consumer import ConsumerSpec, EventMeta
from crm_common.metrics import OPPORTUNITIES_OPENED
from crm_common.service import Runtime
from pipeline import repository
from pipeline.convert import from_timestamp, to_timestamp
from pipeline.domain import opportunity_for_contact

log = logging.getLogger(__name__)

LEAD_CONTACTED = "crm.lead.contacted"
OPPORTUNITY_OPENED = "crm.pipeline.opportunity_opened"


def lead_contacted_consumer(runtime: Runtime) -> ConsumerSpec:
    """Durable pipeline-lead-contacted: open the lead's opportunity on its first contact, once per lead."""

    async def open_on_first_contact(
        conn: AsyncConnection, message: lead_events_pb2.LeadContacted, meta: EventMeta
    ) -> None:
        to_open = opportunity_for_contact(
            lead_id=message.lead_id,
            rep_id=message.rep_id,
            customer_id=message.customer_id,
            first_contact=message.first_contact,
            contacted_at=from_timestamp(message.contacted_at, meta.published_at.astimezone(UTC)),
        )
        if to_open is None:
            return
        row = await repository.open_opportunity(
            conn,
            lead_id=to_open.lead_id,
            customer_id=to_open.customer_id,
            owner_id=to_open.owner_id,
            stage=to_open.stage,
            opened_at=to_open.opened_at,
        )
        if row is None:
            # A second "first contact" for the lead (a replay or a race in lead): the opportunity stands.
            log.info("lead %s already has an opportunity", to_open.lead_id, extra={"event_id": meta.event_id})
            return
        await runtime.stage(
            conn,
            OPPORTUNITY_OPENED,
            pipeline_events_pb2.OpportunityOpened(
                opportunity_id=str(row.id),
                lead_id=row.lead_id,
                customer_id=row.customer_id or "",
                owner_id=row.owner_id or "",
                stage=row.stage,
                opened_at=to_timestamp(row.opened_at),
            ),
        )
        OPPORTUNITIES_OPENED.inc()
        log.info(
            "opportunity opened",
            extra={"opportunity_id": str(row.id), "lead_id": row.lead_id, "event_id": meta.event_id},
        )

    return ConsumerSpec(durable="pipeline-lead-contacted", subject=LEAD_CONTACTED, handler=open_on_first_contact)
