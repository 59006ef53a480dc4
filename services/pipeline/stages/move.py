"""The one function through which every stage change goes: REST, gRPC, bulk import, approvals and overrides alike."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from crm.events.v1 import pipeline_events_pb2
from crm_common.access import Action
from crm_common.bus.consumer import after_commit
from crm_common.errors import FailedPrecondition, NotFound
from crm_common.identity import Principal
from crm_common.metrics import PIPELINE_STAGE_CHANGE_DURATION, PIPELINE_STAGE_CHANGES
from pipeline import access
from pipeline.approvals import repository as approvals
from pipeline.convert import to_timestamp
from pipeline.definitions import repository as definitions
from pipeline.definitions.model import Pipeline
from pipeline.deps import Deps
from pipeline.stages import gates
from pipeline.stages import repository as repo
from pipeline.stalls.clock import first_due

STAGE_CHANGED = "crm.pipeline.stage_changed"
APPROVAL_REQUESTED = "crm.pipeline.approval_requested"


class MissingEvidence(FailedPrecondition):
    """A refused move: FAILED_PRECONDITION (409 at the edge) naming each missing item."""

    def __init__(self, missing: list[gates.Missing]) -> None:
        self.missing = missing
        listed = "; ".join(f"{m.stage}/{m.action}: needs {m.need}, has {m.have}" for m in missing)
        super().__init__(f"the stage cannot be left: {listed}")


class Conflict(FailedPrecondition):
    """Somebody changed the opportunity first (its version moved on)."""


@dataclass
class MoveResult:
    """What a move did (or, for a dry run, would do)."""

    allowed: bool
    needs_approval: bool
    missing: list[gates.Missing] = field(default_factory=list)
    opportunity: Row | None = None
    approval: Row | None = None


async def change_stage(
    conn: AsyncConnection,
    deps: Deps,
    *,
    opportunity_id: uuid.UUID,
    to: str,
    reason: str,
    principal: Principal,
    dry_run: bool = False,
    expected_version: int = 0,
    approval: Row | None = None,
) -> MoveResult:
    """Move an opportunity, or request an approval for the move, or refuse it naming what is missing.

    `approval` is an approved request being applied (the approvals module decided who may approve it); an
    override approval moves around the gates and the skip rules, and is recorded as one.
    """
    started = time.perf_counter()
    locked = await repo.lock_with_facts(conn, opportunity_id=opportunity_id)
    if locked is None:
        raise NotFound(f"opportunity {opportunity_id} not found")
    row, facts = locked
    if approval is None:
        access.require(principal, row, Action.ACT)
    if expected_version and row.version != expected_version:
        PIPELINE_STAGE_CHANGES.labels("conflict").inc()
        raise Conflict(f"the opportunity is at version {row.version}, not {expected_version}: read it again")
    pipeline = await definitions.load(conn, key=row.pipeline_key, version=row.pipeline_version)
    override = approval is not None and approval.kind == "override"
    if approval is not None and (approval.from_stage != row.stage or approval.opportunity_version != row.version):
        raise Conflict("the opportunity changed since the approval was requested: request it again")
    if override:
        plan = gates.Plan("override", gated=False, needs_approval=False)
        if pipeline.stage(to) is None:
            raise NotFound(f"stage {to!r} is not in pipeline {pipeline.key!r}")
    else:
        # Only a skip that a rule might allow asks what holds for the customer (one query fewer on ordinary moves).
        conditions = {}
        if any(r.from_stage == row.stage and r.to_stage == to for r in pipeline.skip_rules):
            conditions["repeat_customer"] = await repo.repeat_customer(conn, customer_id=row.customer_id, besides=row.id)
        plan = gates.plan(pipeline, current=row.stage, status=row.status, to=to, reason=reason, conditions=conditions)
    missing: list[gates.Missing] = []
    current = pipeline.stage(row.stage)
    if plan.gated and current is not None:
        missing = gates.missing(current, facts)
    needs_approval = plan.needs_approval and approval is None
    if dry_run:
        return MoveResult(allowed=not missing and not needs_approval, needs_approval=needs_approval, missing=missing)
    if missing:
        PIPELINE_STAGE_CHANGES.labels("refused").inc()
        raise MissingEvidence(missing)
    now = deps.now()
    who = access.actor(principal)
    if needs_approval:
        requested = await request_approval(
            conn, deps, row=row, kind="backward" if plan.kind in ("backward", "reopen") else "skip", to=to,
            reason=reason, requested_by=who, approver_role="manager", at=now,
        )
        PIPELINE_STAGE_CHANGES.labels("approval_requested").inc()
        return MoveResult(allowed=False, needs_approval=True, approval=requested)
    moved = await _apply(conn, deps, row=row, pipeline=pipeline, to=to, reason=reason, who=who, approval=approval, at=now)
    PIPELINE_STAGE_CHANGES.labels("override" if override else "moved").inc()
    PIPELINE_STAGE_CHANGE_DURATION.observe(time.perf_counter() - started)
    return MoveResult(allowed=True, needs_approval=False, opportunity=moved)


async def request_approval(
    conn: AsyncConnection,
    deps: Deps,
    *,
    row: Row,
    kind: str,
    to: str,
    reason: str,
    requested_by: str,
    approver_role: str,
    at: datetime,
) -> Row:
    """A pending approval for a move (the opportunity stays where it is), announced for the approver."""
    created = await approvals.create(
        conn,
        values={
            "opportunity_id": row.id, "kind": kind, "from_stage": row.stage, "to_stage": to, "reason": reason,
            "requested_by": requested_by, "approver_role": approver_role, "team_id": row.team_id,
            "opportunity_version": row.version, "created_at": at,
        },
    )
    if created is None:
        raise FailedPrecondition("the opportunity already has a pending approval: decide that one first")
    await deps.runtime.stage(
        conn,
        APPROVAL_REQUESTED,
        pipeline_events_pb2.ApprovalRequested(
            approval_id=str(created.id), opportunity_id=str(row.id), kind=kind, from_stage=row.stage, to_stage=to,
            requested_by=requested_by, owner_id=row.owner_id or "", team_id=row.team_id, approver_role=approver_role,
            reason=reason, at=to_timestamp(at),
        ),
    )
    recipient = (await deps.directory.owner(row.owner_id or "")).manager_id if approver_role == "manager" else ""
    await approvals.add_notification(
        conn, opportunity_id=row.id, kind="approval_requested", recipient_id=recipient or f"{approver_role}s",
        detail=f"{kind} {row.stage} -> {to} requested by {requested_by}", at=at,
    )
    return created


async def _apply(
    conn: AsyncConnection,
    deps: Deps,
    *,
    row: Row,
    pipeline: Pipeline,
    to: str,
    reason: str,
    who: str,
    approval: Row | None,
    at: datetime,
) -> Row:
    target = pipeline.stage(to)
    assert target is not None
    # A move adopts the live version of the pipeline when the stage is still in it (a deal keeps its version until
    # moved); otherwise it stays on the version it was in.
    live = await definitions.live(conn, key=pipeline.key)
    version = live.version if live.stage(to) is not None else pipeline.version
    stage = (live if version == live.version else pipeline).stage(to) or target
    status = target.outcome or "open"
    calendar = None
    if stage.stall_clock == "business":
        calendar = (await deps.directory.owner(row.owner_id or "")).calendar
    due = first_due(
        stage, sub_state="", since=at, sub_state_since=None, next_step_at=row.next_step_at, calendar=calendar
    )
    values = {
        "stage": to, "status": status, "pipeline_version": version, "stage_entered_at": at, "sub_state": "",
        "sub_state_entered_at": None, "stalled": False, "block_reason": "",
        "closed_at": at if status != "open" else None,
        "lost_reason": reason if status == "lost" else "",
        "stall_due_at": due.at if due else None, "stall_kind": due.kind if due else "", "stall_level": 0,
    }
    history = {
        "stage": to, "by": approval.requested_by if approval is not None else who,
        "approved_by": approval.decided_by if approval is not None else "",
        "override": approval is not None and approval.kind == "override", "reason": reason,
        "approval_id": approval.id if approval is not None else None,
    }
    event = pipeline_events_pb2.StageChanged(
        opportunity_id=str(row.id), pipeline=pipeline.key, pipeline_version=version, from_stage=row.stage,
        to_stage=to, by=history["by"], approved_by=history["approved_by"], override=history["override"],
        reason=reason, status=status, seconds_in_stage=(at - row.stage_entered_at).total_seconds(),
        owner_id=row.owner_id or "", team_id=row.team_id, at=to_timestamp(at),
        approval_kind=approval.kind if approval is not None else "",
    )
    moved = await repo.apply_move(
        conn, row=row, values=values, history=history, at=at, outbox=deps.runtime.definition.outbox,
        events=[(STAGE_CHANGED, event)],
    )
    if moved is None:
        raise Conflict("the opportunity changed while it was being moved: read it again")
    if deps.on_due_changed is not None:
        after_commit(conn, deps.on_due_changed)
    return moved
