"""A deactivated rep's open opportunities go to the successor, else the team manager (as leads and accounts do)."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncConnection

from crm.events.v1 import lead_events_pb2, pipeline_events_pb2
from crm_common.bus.consumer import ConsumerSpec, EventMeta
from pipeline.convert import to_timestamp
from pipeline.deps import Deps
from pipeline.handover import repository as repo

log = logging.getLogger(__name__)

REP_DEACTIVATED = "crm.lead.rep_deactivated"
HANDOVER = "crm.pipeline.handover"


def rep_deactivated_consumer(deps: Deps) -> ConsumerSpec:
    """Durable pipeline-rep-deactivated: hand the rep's open opportunities over, once per event."""

    async def hand_over(conn: AsyncConnection, message: lead_events_pb2.RepDeactivated, meta: EventMeta) -> None:
        if not message.rep_id:
            raise ValueError("crm.lead.rep_deactivated without rep_id")
        to_owner, reason = (
            (message.successor_id, "successor") if message.successor_id else (message.manager_id, "team_manager")
        )
        if not to_owner:
            log.warning("rep %s left with no successor and no team manager: opportunities stay", message.rep_id)
            return
        team = (await deps.directory.owner(to_owner)).team_id
        moved = await repo.hand_over(conn, from_owner=message.rep_id, to_owner=to_owner, team_id=team or None)
        at = to_timestamp(message.at.ToDatetime(tzinfo=meta.published_at.tzinfo) if message.at.seconds else meta.published_at)
        for row in moved:
            await deps.runtime.stage(
                conn,
                HANDOVER,
                pipeline_events_pb2.OpportunityHandedOver(
                    opportunity_id=str(row.id), from_owner_id=message.rep_id, to_owner_id=to_owner, reason=reason, at=at
                ),
            )
        log.info("opportunities handed over", extra={"rep_id": message.rep_id, "count": len(moved), "to": to_owner})

    return ConsumerSpec(durable="pipeline-rep-deactivated", subject=REP_DEACTIVATED, handler=hand_over)
