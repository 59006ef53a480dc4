"""Deciding approvals: never by the requester; an override only by a second admin; approving applies the move."""

from __future__ import annotations

import uuid

from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from crm.events.v1 import pipeline_events_pb2
from crm_common.access import Action, Owner, Resource, decide, effective
from crm_common.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound, PermissionDenied
from crm_common.identity import Principal, Role
from pipeline import access
from pipeline.approvals import repository as repo
from pipeline.convert import to_timestamp
from pipeline.definitions import repository as definitions
from pipeline.deps import Deps
from pipeline.stages import repository as stages_repo
from pipeline.stages.move import MoveResult, change_stage, request_approval

APPROVAL_DECIDED = "crm.pipeline.approval_decided"


async def request_override(
    conn: AsyncConnection, deps: Deps, *, opportunity_id: uuid.UUID, to: str, reason: str, principal: Principal
) -> Row:
    """An admin's request to move around the rules; only another admin can approve it."""
    if effective(principal).role is not Role.ADMIN:
        raise PermissionDenied("only an admin may request an override")
    if not reason.strip():
        raise InvalidArgument([FieldViolation("reason", "an override needs a reason")])
    row = await stages_repo.lock(conn, opportunity_id=opportunity_id)
    if row is None:
        raise NotFound(f"opportunity {opportunity_id} not found")
    pipeline = await definitions.load(conn, key=row.pipeline_key, version=row.pipeline_version)
    if pipeline.stage(to) is None:
        raise InvalidArgument([FieldViolation("to", f"unknown stage {to!r} in pipeline {pipeline.key!r}")])
    if to == row.stage:
        raise FailedPrecondition(f"the opportunity is already in stage {to!r}")
    return await request_approval(
        conn, deps, row=row, kind="override", to=to, reason=reason.strip(), requested_by=access.actor(principal),
        approver_role="admin", at=deps.now(),
    )


async def decide_approval(
    conn: AsyncConnection, deps: Deps, *, approval_id: uuid.UUID, approve: bool, reason: str, principal: Principal
) -> tuple[Row, MoveResult | None]:
    """Approve (the move is applied through the one stage-change function) or reject a pending request."""
    approval = await repo.get(conn, approval_id=approval_id, lock=True)
    if approval is None:
        raise NotFound(f"approval {approval_id} not found")
    who = access.actor(principal)
    decider = effective(principal)
    if approval.kind == "override":
        if decider.role is not Role.ADMIN:
            raise NotFound(f"approval {approval_id} not found")
    elif not decide(principal, Resource.APPROVAL, Action.ACT, owner=Owner.of(teams=[approval.team_id])).allowed:
        raise NotFound(f"approval {approval_id} not found")
    if approval.status != "pending":
        raise FailedPrecondition(f"the approval is already {approval.status}")
    if approval.requested_by == who:
        raise PermissionDenied("a requester never decides their own request: another person must")
    if not approve and not reason.strip():
        raise InvalidArgument([FieldViolation("reason", "a rejection needs a reason")])
    now = deps.now()
    decided = await repo.decide(
        conn, approval_id=approval.id, status="approved" if approve else "rejected", decided_by=who,
        reason=reason.strip(), at=now,
    )
    result = None
    if approve:
        result = await change_stage(
            conn, deps, opportunity_id=approval.opportunity_id, to=approval.to_stage, reason=approval.reason,
            principal=principal, approval=decided,
        )
    await deps.runtime.stage(
        conn,
        APPROVAL_DECIDED,
        pipeline_events_pb2.ApprovalDecided(
            approval_id=str(approval.id), opportunity_id=str(approval.opportunity_id), kind=approval.kind,
            approved=approve, decided_by=who, reason=reason.strip(), requested_by=approval.requested_by,
            at=to_timestamp(now),
        ),
    )
    await repo.add_notification(
        conn, opportunity_id=approval.opportunity_id, kind="approval_decided", recipient_id=approval.requested_by,
        detail=f"{approval.kind} {approval.from_stage} -> {approval.to_stage} {decided.status} by {who}", at=now,
    )
    return decided, result
