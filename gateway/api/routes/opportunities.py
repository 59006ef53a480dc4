"""Opportunities: open, read, change fields, record evidence, and ask for stage changes (the one path)."""

from __future__ import annotations

import json
import re
from http import HTTPStatus
from typing import Annotated, Any

import grpc
from fastapi import APIRouter, Depends, File, Form, Path, Request, UploadFile
from fastapi.responses import JSONResponse
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from crm.pipeline.v1 import pipeline_pb2
from crm_common.access import Action, Resource
from gateway.api.deps import IdempotencyKeyDep, PipelineClientDep, canonical_id, permit
from gateway.convert import reply_json
from gateway.core.errors import PROBLEM_JSON, FieldError, Problem
from gateway.core.peers import CALL_DEADLINE_SECONDS
from gateway.core.security import Caller
from gateway.pipeline_schemas import (
    BlockReasonIn,
    ConfirmationIn,
    ContactIn,
    OpportunityIn,
    OpportunityPatch,
    OverrideIn,
    StageImportIn,
    StageMoveIn,
    SubStateMoveIn,
)

router = APIRouter(prefix="/v1", tags=["opportunities"])

OpportunityReadDep = Annotated[Caller, Depends(permit(Resource.OPPORTUNITY, Action.READ))]
OpportunityCreateDep = Annotated[Caller, Depends(permit(Resource.OPPORTUNITY, Action.CREATE))]
OpportunityUpdateDep = Annotated[Caller, Depends(permit(Resource.OPPORTUNITY, Action.UPDATE))]
OpportunityActDep = Annotated[Caller, Depends(permit(Resource.OPPORTUNITY, Action.ACT))]
OverrideDep = Annotated[Caller, Depends(permit(Resource.PIPELINE, Action.UPDATE))]

# The file route's body limit is its own (CRM_OPPORTUNITY_FILE_MAX_BYTES), not the edge's 1 MB.
FILES_PATH = re.compile(r"^/v1/opportunities/[^/]+/files$")
DEFAULT_FILE_MAX_BYTES = 20 * 1024 * 1024
MULTIPART_OVERHEAD = 64 * 1024


def upload_limit(max_bytes: int) -> Any:
    """The body limit of a path: the file route's, else None (the edge's own)."""

    def limit(path: str) -> int | None:
        return max_bytes + MULTIPART_OVERHEAD if FILES_PATH.match(path) else None

    return limit


async def _opportunity_id(opportunity_id: Annotated[str, Path(description="The opportunity's id (a UUID).")]) -> str:
    return canonical_id(opportunity_id, "opportunity")


OpportunityIdDep = Annotated[str, Depends(_opportunity_id)]


def _amount(value: str) -> float | None:
    return float(value) if value else None


def approval_json(message: pipeline_pb2.Approval) -> dict[str, Any]:
    out = reply_json(message, frozenset())
    out["to"] = out.pop("to_stage")
    out["from"] = out.pop("from_stage")
    return out


def opportunity_json(message: pipeline_pb2.Opportunity) -> dict[str, Any]:
    """The opportunity as the REST contract shows it."""
    out = reply_json(message, frozenset())
    out["amount"] = _amount(message.amount)
    out["expected_close_date"] = message.expected_close_date or None
    out["lead_id"] = message.lead_id or None
    out["sub_state"] = message.sub_state or None
    out["block_reason"] = message.block_reason or None
    out["next_step_at"] = out.get("next_step_at")
    out["pending_approval"] = approval_json(message.pending_approval) if message.HasField("pending_approval") else None
    out["history"] = [
        {
            "stage": h.stage,
            "entered_at": h.entered_at.ToJsonString(),
            "left_at": h.left_at.ToJsonString() if h.HasField("left_at") else None,
            "by": h.by,
            "approved_by": h.approved_by or None,
            "override": h.override,
            "reason": h.reason or None,
            "seconds_in_stage": h.seconds_in_stage,
            "sub_state_seconds": dict(h.sub_state_seconds),
            "reentry": h.reentry,
        }
        for h in message.history
    ]
    return out


def _missing_of(error: grpc.aio.AioRpcError) -> list[dict[str, str]]:
    """The missing items a refused move names (PreconditionFailure violations), empty for any other refusal."""
    status = rpc_status.from_call(error)
    found: list[dict[str, str]] = []
    for detail in status.details if status is not None else ():
        failure = error_details_pb2.PreconditionFailure()
        if detail.Unpack(failure):
            for v in failure.violations:
                said = json.loads(v.description)
                found.append({"stage": v.type, "action": v.subject, "need": said["need"], "have": said["have"]})
    return found


def _refused(request: Request, error: grpc.aio.AioRpcError, missing: list[dict[str, str]]) -> JSONResponse:
    body = {
        "type": "about:blank", "title": HTTPStatus.CONFLICT.phrase, "status": 409, "detail": error.details(),
        "instance": request.url.path, "errors": [], "missing": missing,
    }
    return JSONResponse(body, status_code=409, media_type=PROBLEM_JSON)


@router.post("/opportunities", status_code=201, summary="Open an opportunity in the first stage of its pipeline")
async def create_opportunity(
    body: OpportunityIn, _: OpportunityCreateDep, client: PipelineClientDep, idempotency_key: IdempotencyKeyDep = None
) -> dict[str, Any]:
    reply = await client.CreateOpportunity(
        pipeline_pb2.CreateOpportunityRequest(
            customer_id=body.customer_id, name=body.name, amount=str(body.amount), currency=body.currency,
            owner_id=body.owner_id, pipeline=body.pipeline, lead_id=body.lead_id or "",
            expected_close_date=body.expected_close_date.isoformat() if body.expected_close_date else "",
            idempotency_key=idempotency_key or "",
        ),
        timeout=CALL_DEADLINE_SECONDS,
    )
    return opportunity_json(reply.opportunity)


@router.get("/opportunities/{opportunity_id}", summary="An opportunity: stage, actions, history, pending approval")
async def get_opportunity(opportunity_id: OpportunityIdDep, _: OpportunityReadDep, client: PipelineClientDep) -> dict[str, Any]:
    reply = await client.GetOpportunity(
        pipeline_pb2.GetOpportunityRequest(opportunity_id=opportunity_id), timeout=CALL_DEADLINE_SECONDS
    )
    return opportunity_json(reply.opportunity)


@router.patch("/opportunities/{opportunity_id}", summary="Change fields of an opportunity (never its stage)")
async def patch_opportunity(
    opportunity_id: OpportunityIdDep, body: OpportunityPatch, _: OpportunityUpdateDep, client: PipelineClientDep
) -> dict[str, Any]:
    fields = body.model_fields_set - {"version"}
    if "stage" in fields:
        raise Problem(
            422, "the stage is not a field", errors=[FieldError("/stage", "moves only through POST /v1/opportunities/{id}/stage")]
        )
    if not fields:
        raise Problem(422, "nothing to change", errors=[FieldError("body", "name at least one field to change")])
    request = pipeline_pb2.UpdateOpportunityRequest(opportunity_id=opportunity_id, update_mask=sorted(fields), version=body.version)
    for name in fields:
        value = getattr(body, name)
        if name == "next_step_at":
            if value is not None:
                request.next_step_at.FromDatetime(value)
        elif name in ("amount",):
            request.amount = "" if value is None else str(value)
        elif name == "expected_close_date":
            request.expected_close_date = value.isoformat() if value else ""
        else:
            setattr(request, name, value or "")
    reply = await client.UpdateOpportunity(request, timeout=CALL_DEADLINE_SECONDS)
    return opportunity_json(reply.opportunity)


@router.post("/opportunities/{opportunity_id}/contacts", status_code=201, summary="Record a communication with the customer")
async def record_contact(
    opportunity_id: OpportunityIdDep, body: ContactIn, _: OpportunityActDep, client: PipelineClientDep
) -> dict[str, Any]:
    reply = await client.RecordContact(
        pipeline_pb2.RecordContactRequest(opportunity_id=opportunity_id, channel=body.channel, summary=body.summary),
        timeout=CALL_DEADLINE_SECONDS,
    )
    return {"id": reply.id}


@router.post(
    "/opportunities/{opportunity_id}/files", status_code=201,
    summary="Upload a document for an action of the current stage (type judged by content; up to 20 MB)",
)
async def add_file(
    request: Request,
    opportunity_id: OpportunityIdDep,
    file: Annotated[UploadFile, File(description="The document")],
    action: Annotated[str, Form(max_length=64, description="The action of the current stage it is evidence for")],
    _: OpportunityActDep,
    client: PipelineClientDep,
) -> dict[str, Any]:
    limit = getattr(request.app.state.settings, "opportunity_file_max_bytes", DEFAULT_FILE_MAX_BYTES)
    content = await file.read(limit + 1)
    if len(content) > limit:
        raise Problem(413, f"the file is over {limit} bytes", errors=[FieldError("file", f"at most {limit} bytes")])
    reply = await client.AddFile(
        pipeline_pb2.AddFileRequest(opportunity_id=opportunity_id, action=action, content=content, filename=file.filename or ""),
        timeout=CALL_DEADLINE_SECONDS,
    )
    return {"id": reply.id, "sha256": reply.sha256, "media_type": reply.media_type, "size": reply.size}


@router.post("/opportunities/{opportunity_id}/confirmations", status_code=201, summary="Record the customer's confirmation")
async def record_confirmation(
    opportunity_id: OpportunityIdDep, body: ConfirmationIn, _: OpportunityActDep, client: PipelineClientDep
) -> dict[str, Any]:
    reply = await client.RecordConfirmation(
        pipeline_pb2.RecordConfirmationRequest(
            opportunity_id=opportunity_id, action=body.action, confirmed_by=body.confirmed_by, note=body.note
        ),
        timeout=CALL_DEADLINE_SECONDS,
    )
    return {"id": reply.id}


@router.post(
    "/opportunities/{opportunity_id}/stage",
    summary="Move to a stage: 200 moved (or a dry run's answer), 202 approval requested, 409 naming what is missing",
    responses={202: {"description": "An approval was requested"}, 409: {"description": "Evidence missing"}},
)
async def move_stage(
    request: Request, opportunity_id: OpportunityIdDep, body: StageMoveIn, _: OpportunityActDep, client: PipelineClientDep
) -> Any:
    try:
        reply = await client.MoveStage(
            pipeline_pb2.MoveStageRequest(
                opportunity_id=opportunity_id, to_stage=body.to, reason=body.reason, dry_run=body.dry_run,
                version=body.version,
            ),
            timeout=CALL_DEADLINE_SECONDS,
        )
    except grpc.aio.AioRpcError as error:
        missing = _missing_of(error) if error.code() == grpc.StatusCode.FAILED_PRECONDITION else []
        if missing:
            return _refused(request, error, missing)
        raise
    if body.dry_run:
        return {
            "allowed": reply.allowed, "needs_approval": reply.needs_approval,
            "missing": [{"stage": m.stage, "action": m.action, "need": m.need, "have": m.have} for m in reply.missing],
        }
    if reply.approval_id:
        return JSONResponse({"approval_id": reply.approval_id}, status_code=202)
    return opportunity_json(reply.opportunity)


@router.post("/opportunities/{opportunity_id}/sub-state", summary="Move to a sub-state of the current stage")
async def set_sub_state(
    opportunity_id: OpportunityIdDep, body: SubStateMoveIn, _: OpportunityActDep, client: PipelineClientDep
) -> dict[str, Any]:
    reply = await client.SetSubState(
        pipeline_pb2.SetSubStateRequest(opportunity_id=opportunity_id, sub_state=body.sub_state),
        timeout=CALL_DEADLINE_SECONDS,
    )
    return opportunity_json(reply.opportunity)


@router.post("/opportunities/{opportunity_id}/block-reason", summary="Say why the deal does not move (a reason of the pipeline)")
async def set_block_reason(
    opportunity_id: OpportunityIdDep, body: BlockReasonIn, _: OpportunityActDep, client: PipelineClientDep
) -> dict[str, Any]:
    reply = await client.SetBlockReason(
        pipeline_pb2.SetBlockReasonRequest(opportunity_id=opportunity_id, reason=body.reason),
        timeout=CALL_DEADLINE_SECONDS,
    )
    return opportunity_json(reply.opportunity)


@router.post(
    "/opportunities/{opportunity_id}/override", status_code=202,
    summary="Ask a second admin to approve a move around the stage rules (admin)",
)
async def request_override(
    opportunity_id: OpportunityIdDep, body: OverrideIn, _: OverrideDep, client: PipelineClientDep
) -> dict[str, Any]:
    reply = await client.RequestOverride(
        pipeline_pb2.RequestOverrideRequest(opportunity_id=opportunity_id, to_stage=body.to, reason=body.reason),
        timeout=CALL_DEADLINE_SECONDS,
    )
    return {"approval_id": reply.approval.id, "approval": approval_json(reply.approval)}


@router.get("/opportunities/{opportunity_id}/notifications", summary="What the service had told about the opportunity")
async def list_notifications(
    opportunity_id: OpportunityIdDep, _: OpportunityReadDep, client: PipelineClientDep
) -> dict[str, Any]:
    reply = await client.ListOpportunityNotifications(
        pipeline_pb2.ListOpportunityNotificationsRequest(opportunity_id=opportunity_id), timeout=CALL_DEADLINE_SECONDS
    )
    return reply_json(reply, frozenset())


@router.post(
    "/opportunity-stage-changes",
    summary="Bulk import of stage changes: each line moved, sent for approval or refused exactly as one move would be",
)
async def import_stage_changes(body: StageImportIn, _: OpportunityActDep, client: PipelineClientDep) -> dict[str, Any]:
    reply = await client.ImportStageChanges(
        pipeline_pb2.ImportStageChangesRequest(
            changes=[
                pipeline_pb2.StageChange(opportunity_id=c.opportunity_id, to_stage=c.to, reason=c.reason)
                for c in body.changes
            ]
        ),
        timeout=CALL_DEADLINE_SECONDS,
    )
    return {
        "results": [
            {
                "opportunity_id": r.opportunity_id, "outcome": r.outcome, "approval_id": r.approval_id or None,
                "message": r.message or None,
                "missing": [{"stage": m.stage, "action": m.action, "need": m.need, "have": m.have} for m in r.missing],
            }
            for r in reply.results
        ]
    }
