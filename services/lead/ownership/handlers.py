"""Ownership's RPCs: claim, contact, reassign, the public pool."""

from __future__ import annotations

from typing import Any

import grpc

from crm.lead.v1 import lead_pb2
from lead import access
from lead.domain import mask_email, mask_phone
from lead.ownership import repository as ownership_repo
from lead.ownership import use_cases as ownership_cases
from lead.rpc import RoomHandlers
from lead.timestamps import ts


class OwnershipHandlers(RoomHandlers):
    """Ownership's RPCs: mixed into LeadServicer, which checks access before each."""

    async def ClaimLead(self, request: lead_pb2.ClaimLeadRequest, context: grpc.aio.ServicerContext) -> Any:
        access.acting_rep(access.caller(), request.rep_id)
        access.readable(await self._load(request.lead_id), access.Action.ACT)
        lead_id = await ownership_cases.claim(self.runtime, request.lead_id, request.rep_id)
        return lead_pb2.ClaimLeadResponse(lead=await access.shown(self.runtime, await self._load(lead_id)))

    async def RecordContact(self, request: lead_pb2.RecordContactRequest, context: grpc.aio.ServicerContext) -> Any:
        access.acting_rep(access.caller(), request.rep_id)
        access.readable(await self._load(request.lead_id), access.Action.ACT)
        lead_id, first = await ownership_cases.record_contact(
            self.runtime, request.lead_id, request.rep_id, request.channel, request.summary
        )
        lead_out = await access.shown(self.runtime, await self._load(lead_id))
        return lead_pb2.RecordContactResponse(lead=lead_out, first_contact=first)

    async def ReassignLead(self, request: lead_pb2.ReassignLeadRequest, context: grpc.aio.ServicerContext) -> Any:
        access.readable(await self._load(request.lead_id), access.Action.UPDATE)
        lead_id = await ownership_cases.reassign(self.runtime, request.lead_id, request.to_rep_id, request.reason)
        return lead_pb2.ReassignLeadResponse(lead=await access.shown(self.runtime, await self._load(lead_id)))

    async def ListPool(self, request: lead_pb2.ListPoolRequest, context: grpc.aio.ServicerContext) -> Any:
        async with self.runtime.db.connect() as conn:
            rows = await ownership_repo.list_pool(conn)
        return lead_pb2.ListPoolResponse(
            leads=[
                lead_pb2.PooledLead(
                    id=r.id,
                    name=r.name,
                    company=r.company,
                    masked_phone=mask_phone(r.phone_e164),
                    masked_email=mask_email(r.email),
                    province=r.province,
                    city=r.city,
                    industry=r.industry,
                    score=r.score,
                    pooled_at=ts(r.pooled_at),
                )
                for r in rows
            ]
        )

    async def ClaimFromPool(self, request: lead_pb2.ClaimFromPoolRequest, context: grpc.aio.ServicerContext) -> Any:
        access.acting_rep(access.caller(), request.rep_id)
        lead_id = await ownership_cases.claim_from_pool(self.runtime, request.lead_id, request.rep_id)
        return lead_pb2.ClaimFromPoolResponse(lead=await access.shown(self.runtime, await self._load(lead_id)))
