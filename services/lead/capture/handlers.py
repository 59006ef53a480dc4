"""Capture's RPCs: capture a lead, list and release quarantined submissions."""

from __future__ import annotations

from typing import Any

import grpc
from google.protobuf.json_format import ParseDict
from sqlalchemy import Row

from crm.lead.v1 import lead_pb2
from crm_common.errors import FieldViolation, InvalidArgument
from lead import access
from lead.capture import idempotency
from lead.capture import repository as capture_repo
from lead.capture import use_cases as capture_cases
from lead.domain import validate_lead
from lead.rpc import RoomHandlers, lead_message
from lead.timestamps import ts


def quarantine_message(row: Row[Any]) -> lead_pb2.QuarantinedSubmission:
    data = lead_pb2.LeadInput()
    ParseDict(row.input, data, ignore_unknown_fields=True)
    return lead_pb2.QuarantinedSubmission(
        id=row.id,
        input=data,
        reasons=row.reasons,
        status=row.status,
        received_at=ts(row.received_at),
        released_lead_id=row.released_lead_id or "",
    )


class CaptureHandlers(RoomHandlers):
    """Capture's RPCs: mixed into LeadServicer, which checks access before each."""

    async def CaptureLead(self, request: lead_pb2.CaptureLeadRequest, context: grpc.aio.ServicerContext) -> Any:
        lead = validate_lead(request.lead, region=self.runtime.settings.default_region)
        key = request.idempotency_key.strip() or None
        if key is not None and len(key) > 200:
            raise InvalidArgument([FieldViolation("idempotency_key", "must be at most 200 characters")])
        scope = idempotency.caller_scope(idempotency.named_scope(context))
        captured = await capture_cases.capture(self.runtime, lead, key, request.lead, scope=scope)
        if captured.quarantine is not None and captured.lead_id is None:
            return lead_pb2.CaptureLeadResponse(quarantined=True, quarantine=quarantine_message(captured.quarantine))
        assert captured.lead_id is not None
        if captured.lead is not None and captured.timeline is not None:
            lead_out = lead_message(captured.lead, captured.timeline)
        else:
            lead_out = await self._load(captured.lead_id)
        return lead_pb2.CaptureLeadResponse(lead=lead_out, created=captured.created, duplicate=captured.duplicate)

    async def ListQuarantine(self, request: lead_pb2.ListQuarantineRequest, context: grpc.aio.ServicerContext) -> Any:
        async with self.runtime.db.connect() as conn:
            rows = await capture_repo.list_quarantine(conn, held_only=not request.all)
        submissions = [quarantine_message(r) for r in rows]
        await access.quarantine_read(self.runtime, submissions)
        return lead_pb2.ListQuarantineResponse(submissions=submissions)

    async def ReleaseQuarantined(
        self, request: lead_pb2.ReleaseQuarantinedRequest, context: grpc.aio.ServicerContext
    ) -> Any:
        lead_id = await capture_cases.release(self.runtime, request.quarantine_id)
        return lead_pb2.ReleaseQuarantinedResponse(lead=await self._load(lead_id))
