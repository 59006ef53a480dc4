"""Events customer-master follows: a rep's departure hands the rep's accounts over."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncConnection

from crm.events.v1 import lead_events_pb2
from crm_common.bus.consumer import ConsumerSpec, EventMeta
from customer_master.stewardship import hand_over_accounts

log = logging.getLogger(__name__)

REP_DEACTIVATED = "crm.lead.rep_deactivated"


async def hand_over_on_departure(
    conn: AsyncConnection, message: lead_events_pb2.RepDeactivated, meta: EventMeta
) -> None:
    """Move the departed rep's accounts, in the transaction that records the event as handled."""
    if not message.rep_id:
        # Nothing names whose accounts to move: raising sends it to the dead letters for an operator.
        raise ValueError("crm.lead.rep_deactivated without rep_id")
    steward, touched = await hand_over_accounts(
        conn,
        rep_id=message.rep_id,
        successor_id=message.successor_id,
        manager_id=message.manager_id,
        why=f"rep {message.rep_id} deactivated (event {meta.event_id})",
    )
    log.info(
        "accounts handed over",
        extra={"rep_id": message.rep_id, "steward_id": steward, "accounts": touched},
    )


CONSUMERS = [
    ConsumerSpec(durable="customer-master-rep-deactivated", subject=REP_DEACTIVATED, handler=hand_over_on_departure),
]
