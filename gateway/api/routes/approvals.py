"""Approvals of skips, backward moves and overrides: listed for those who may decide, approved or rejected."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query

from crm.pipeline.v1 import pipeline_pb2
from crm_common.access import Action, Resource
from gateway.api.deps import PipelineClientDep, canonical_id, permit
from gateway.api.routes.opportunities import approval_json, opportunity_json
from gateway.core.peers import CALL_DEADLINE_SECONDS
from gateway.core.security import Caller
from gateway.pipeline_schemas import ApproveIn, RejectIn

router = APIRouter(prefix="/v1", tags=["approvals"])

ApprovalReadDep = Annotated[Caller, Depends(permit(Resource.APPROVAL, Action.READ))]
ApprovalActDep = Annotated[Caller, Depends(permit(Resource.APPROVAL, Action.ACT))]


async def _approval_id(approval_id: Annotated[str, Path(description="The approval's id (a UUID).")]) -> str:
    return canonical_id(approval_id, "approval")


ApprovalIdDep = Annotated[str, Depends(_approval_id)]


@router.get("/approvals", summary="Approval requests the caller may see")
async def list_approvals(
    _: ApprovalReadDep,
    client: PipelineClientDep,
    status: Annotated[Literal["pending", "approved", "rejected"] | None, Query()] = None,
) -> dict[str, Any]:
    reply = await client.ListApprovals(pipeline_pb2.ListApprovalsRequest(status=status or ""), timeout=CALL_DEADLINE_SECONDS)
    return {"approvals": [approval_json(a) for a in reply.approvals]}


async def _decide(client: Any, approval_id: str, approve: bool, reason: str) -> dict[str, Any]:
    reply = await client.DecideApproval(
        pipeline_pb2.DecideApprovalRequest(approval_id=approval_id, approve=approve, reason=reason),
        timeout=CALL_DEADLINE_SECONDS,
    )
    return {
        "approval": approval_json(reply.approval),
        "opportunity": opportunity_json(reply.opportunity) if reply.HasField("opportunity") else None,
    }


@router.post("/approvals/{approval_id}/approve", summary="Approve (the move is made); never the requester's own")
async def approve(approval_id: ApprovalIdDep, _: ApprovalActDep, client: PipelineClientDep, body: ApproveIn | None = None) -> dict[str, Any]:
    return await _decide(client, approval_id, True, body.reason if body else "")


@router.post("/approvals/{approval_id}/reject", summary="Reject, with a reason")
async def reject(approval_id: ApprovalIdDep, body: RejectIn, _: ApprovalActDep, client: PipelineClientDep) -> dict[str, Any]:
    return await _decide(client, approval_id, False, body.reason)
