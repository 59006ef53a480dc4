"""What every room's RPC handlers share: the runtime, reading a lead, the proto form of a lead."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row

from crm.lead.v1 import lead_pb2
from crm_common.errors import NotFound
from crm_common.service import Runtime
from lead import records
from lead.domain import mask_email, mask_phone
from lead.timestamps import ts

STATUS = {
    "new": lead_pb2.LEAD_STATUS_NEW,
    "assigned": lead_pb2.LEAD_STATUS_ASSIGNED,
    "claimed": lead_pb2.LEAD_STATUS_CLAIMED,
    "contacted": lead_pb2.LEAD_STATUS_CONTACTED,
    "pool": lead_pb2.LEAD_STATUS_POOL,
}


def lead_message(row: Row[Any], timeline: Sequence[Any]) -> lead_pb2.Lead:
    """The proto form of a stored lead and its timeline; a pooled lead's contact details are masked until claimed."""
    pooled = row.status == "pool"
    return lead_pb2.Lead(
        id=row.id,
        input=lead_pb2.LeadInput(
            name=row.name,
            phone=mask_phone(row.phone_e164) if pooled else row.phone_e164,
            email=mask_email(row.email) if pooled else row.email,
            company=row.company,
            province=row.province,
            city=row.city,
            industry=row.industry,
            product_interest=row.product_interest,
            customer_tier=row.customer_tier,
            notes=row.notes,
            source=lead_pb2.Source(
                channel=row.channel,
                utm_source=row.utm_source,
                utm_medium=row.utm_medium,
                utm_campaign=row.utm_campaign,
                campaign_id=row.campaign_id,
                referrer=row.referrer,
            ),
        ),
        status=STATUS[row.status],
        customer_id=row.customer_id or "",
        assignee_id=row.assignee_id or "",
        trace_id=row.trace_id,
        captured_at=ts(row.captured_at),
        assigned_at=ts(row.assigned_at),
        claimed_at=ts(row.claimed_at),
        first_contact_at=ts(row.first_contact_at),
        timeline=[lead_pb2.TimelineEntry(step=t.step, at=ts(t.at), detail=t.detail) for t in timeline],
        score=row.score,
        score_parts=row.score_parts,
        location_inferred=row.location_inferred,
        claim_deadline_at=ts(row.claim_deadline_at) if row.status == "assigned" else None,
        first_contact_deadline_at=ts(row.contact_deadline_at),
        pool_return_at=ts(row.pool_return_at) if row.status in ("claimed", "contacted") else None,
        team_id=row.team_id or "",
        touches=row.touches,
    )


class RoomHandlers:
    """The base of each room's handlers: the runtime and a lead read as the API shows it."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def _load(self, lead_id: str) -> lead_pb2.Lead:
        canonical = records.parse_id(lead_id)
        async with self.runtime.db.read() as conn:
            row = await records.get_lead(conn, lead_id=canonical) if canonical else None
            if row is None:
                raise NotFound(f"lead {lead_id} not found")
            return lead_message(row, await records.list_timeline(conn, lead_id=row.id))
