"""gRPC PipelineService: proto in, one domain function per call in one transaction, proto out."""

from __future__ import annotations

import json
import uuid
from typing import Any

import grpc
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from crm.pipeline.v1 import pipeline_pb2, pipeline_pb2_grpc
from crm_common.access import caller
from crm_common.errors import DomainError, FailedPrecondition, FieldViolation, InvalidArgument, NotFound
from crm_common.service import Runtime
from pipeline import access, opportunities, repository
from pipeline.approvals import repository as approvals_repo
from pipeline.approvals.service import decide_approval, request_override
from pipeline.convert import approval_message, opportunity_message, pipeline_doc, pipeline_message, to_timestamp
from pipeline.definitions import model as definition_model
from pipeline.definitions import repository as definitions
from pipeline.deps import Deps
from pipeline.directory import Directory, LeadDirectory
from pipeline.forecast import repository as forecast
from pipeline.stages import evidence, history
from pipeline.stages.gates import Missing
from pipeline.stages.move import MissingEvidence, MoveResult, change_stage


def _id(value: str, kind: str = "opportunity") -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound(f"{kind} {value!r} not found") from None


def _missing(items: list[Missing]) -> list[pipeline_pb2.MissingItem]:
    return [pipeline_pb2.MissingItem(stage=m.stage, action=m.action, need=m.need, have=m.have) for m in items]


async def _refuse(err: MissingEvidence, context: grpc.aio.ServicerContext | None) -> None:
    """FAILED_PRECONDITION carrying each missing item as a PreconditionFailure violation (the edge lists them)."""
    if context is None:
        raise err
    detail = error_details_pb2.PreconditionFailure()
    for m in err.missing:
        detail.violations.add(type=m.stage, subject=m.action, description=json.dumps({"need": m.need, "have": m.have}))
    status = status_pb2.Status(code=code_pb2.FAILED_PRECONDITION, message=err.message[:500])
    status.details.add().Pack(detail)
    await context.abort_with_status(rpc_status.to_status(status))


@access.guarded
class PipelineServicer(pipeline_pb2_grpc.PipelineServiceServicer):
    """crm.pipeline.v1.PipelineService."""

    def __init__(self, runtime: Runtime, *, directory: Directory | None = None, deps: Deps | None = None) -> None:
        self.runtime = runtime
        self.deps = deps or Deps(runtime=runtime, directory=directory or LeadDirectory(runtime))

    async def _view(self, row: Any) -> pipeline_pb2.Opportunity:
        async with self.runtime.db.connect() as conn:
            return await history.full(conn, row=row, now=self.deps.now())

    async def GetOpportunity(
        self, request: pipeline_pb2.GetOpportunityRequest, context: grpc.aio.ServicerContext
    ) -> pipeline_pb2.GetOpportunityResponse:
        opportunity_id = _id(request.opportunity_id)
        async with self.runtime.db.connect() as conn:
            row = await repository.get_opportunity(conn, opportunity_id=opportunity_id)
            if row is None:
                raise NotFound(f"opportunity {request.opportunity_id!r} not found")
            access.one(opportunity_message(row))
            return pipeline_pb2.GetOpportunityResponse(opportunity=await history.full(conn, row=row, now=self.deps.now()))

    async def ListOpportunities(
        self, request: pipeline_pb2.ListOpportunitiesRequest, context: grpc.aio.ServicerContext
    ) -> pipeline_pb2.ListOpportunitiesResponse:
        async with self.runtime.db.connect() as conn:
            rows = await repository.list_opportunities(conn, lead_id=request.lead_id or None)
        return pipeline_pb2.ListOpportunitiesResponse(opportunities=access.visible([opportunity_message(r) for r in rows]))

    async def PutPipeline(
        self, request: pipeline_pb2.PutPipelineRequest, context: grpc.aio.ServicerContext
    ) -> pipeline_pb2.PutPipelineResponse:
        parsed = definition_model.parse(request.pipeline.key, pipeline_doc(request.pipeline))
        doc = definition_model.to_doc(parsed)
        async with self.runtime.db.transaction() as conn:
            row = await definitions.insert_version(
                conn, key=parsed.key, definition=doc, created_by=access.actor(caller()), created_at=self.deps.now(),
                reason=request.reason,
            )
        return pipeline_pb2.PutPipelineResponse(pipeline=pipeline_message(doc, row))

    async def GetPipeline(
        self, request: pipeline_pb2.GetPipelineRequest, context: grpc.aio.ServicerContext
    ) -> pipeline_pb2.GetPipelineResponse:
        async with self.runtime.db.connect() as conn:
            row = await definitions.get_row(conn, key=request.key, version=request.version or None)
        if row is None:
            raise NotFound(f"pipeline {request.key!r} not found")
        return pipeline_pb2.GetPipelineResponse(pipeline=pipeline_message(row.definition, row))

    async def CreateOpportunity(
        self, request: pipeline_pb2.CreateOpportunityRequest, context: grpc.aio.ServicerContext
    ) -> pipeline_pb2.CreateOpportunityResponse:
        async with self.runtime.db.transaction() as conn:
            row = await opportunities.create(
                conn, self.deps, principal=caller(), customer_id=request.customer_id, name=request.name,
                amount=request.amount, currency=request.currency, owner_id=request.owner_id,
                pipeline_key=request.pipeline, lead_id=request.lead_id, expected_close_date=request.expected_close_date,
                idempotency_key=request.idempotency_key,
            )
        return pipeline_pb2.CreateOpportunityResponse(opportunity=await self._view(row))

    async def UpdateOpportunity(
        self, request: pipeline_pb2.UpdateOpportunityRequest, context: grpc.aio.ServicerContext
    ) -> pipeline_pb2.UpdateOpportunityResponse:
        if not request.update_mask:
            raise InvalidArgument([FieldViolation("update_mask", "name at least one field to change")])
        changes: dict[str, Any] = {}
        for name in request.update_mask:
            if name == "next_step_at":
                changes[name] = request.next_step_at.ToDatetime(tzinfo=self.deps.now().tzinfo) if request.HasField("next_step_at") else None
            else:
                changes[name] = getattr(request, name, None) if name in opportunities.UPDATABLE else None
        async with self.runtime.db.transaction() as conn:
            row = await opportunities.update(
                conn, self.deps, opportunity_id=_id(request.opportunity_id), principal=caller(), changes=changes,
                version=request.version,
            )
        return pipeline_pb2.UpdateOpportunityResponse(opportunity=await self._view(row))

    async def RecordContact(
        self, request: pipeline_pb2.RecordContactRequest, context: grpc.aio.ServicerContext
    ) -> pipeline_pb2.RecordContactResponse:
        async with self.runtime.db.transaction() as conn:
            row = await evidence.record_contact(
                conn, self.deps, opportunity_id=_id(request.opportunity_id), channel=request.channel,
                summary=request.summary, principal=caller(),
            )
        return pipeline_pb2.RecordContactResponse(id=str(row.id))

    async def AddFile(
        self, request: pipeline_pb2.AddFileRequest, context: grpc.aio.ServicerContext
    ) -> pipeline_pb2.AddFileResponse:
        async with self.runtime.db.transaction() as conn:
            row = await evidence.add_file(
                conn, self.deps, opportunity_id=_id(request.opportunity_id), action=request.action,
                content=request.content, principal=caller(), max_bytes=self.runtime.settings.max_file_bytes,
            )
        return pipeline_pb2.AddFileResponse(id=str(row.id), sha256=row.sha256, media_type=row.media_type, size=row.size)

    async def RecordConfirmation(
        self, request: pipeline_pb2.RecordConfirmationRequest, context: grpc.aio.ServicerContext
    ) -> pipeline_pb2.RecordConfirmationResponse:
        async with self.runtime.db.transaction() as conn:
            row = await evidence.record_confirmation(
                conn, self.deps, opportunity_id=_id(request.opportunity_id), action=request.action,
                confirmed_by=request.confirmed_by, note=request.note, principal=caller(),
            )
        return pipeline_pb2.RecordConfirmationResponse(id=str(row.id))

    async def _move(self, request: pipeline_pb2.MoveStageRequest) -> MoveResult:
        if not request.to_stage:
            raise InvalidArgument([FieldViolation("to", "is required")])
        async with self.runtime.db.transaction() as conn:
            return await change_stage(
                conn, self.deps, opportunity_id=_id(request.opportunity_id), to=request.to_stage,
                reason=request.reason, principal=caller(), dry_run=request.dry_run, expected_version=request.version,
            )

    async def MoveStage(
        self, request: pipeline_pb2.MoveStageRequest, context: grpc.aio.ServicerContext
    ) -> pipeline_pb2.MoveStageResponse:
        try:
            result = await self._move(request)
        except MissingEvidence as err:
            await _refuse(err, context)
            raise
        return pipeline_pb2.MoveStageResponse(
            allowed=result.allowed, needs_approval=result.needs_approval, missing=_missing(result.missing),
            opportunity=await self._view(result.opportunity) if result.opportunity is not None else None,
            approval_id=str(result.approval.id) if result.approval is not None else "",
        )

    async def ImportStageChanges(
        self, request: pipeline_pb2.ImportStageChangesRequest, context: grpc.aio.ServicerContext
    ) -> pipeline_pb2.ImportStageChangesResponse:
        """Each line through the same function as MoveStage, in its own transaction: refused lines change nothing."""
        if len(request.changes) > 1000:
            raise InvalidArgument([FieldViolation("changes", "at most 1000 changes per import")])
        results = []
        for change in request.changes:
            one = pipeline_pb2.StageChangeResult(opportunity_id=change.opportunity_id)
            try:
                moved = await self._move(
                    pipeline_pb2.MoveStageRequest(
                        opportunity_id=change.opportunity_id, to_stage=change.to_stage, reason=change.reason
                    )
                )
                one.outcome = "needs_approval" if moved.needs_approval else "moved"
                one.approval_id = str(moved.approval.id) if moved.approval is not None else ""
            except MissingEvidence as err:
                one.outcome, one.message = "refused", err.message
                one.missing.extend(_missing(err.missing))
            except NotFound as err:
                one.outcome, one.message = "not_found", err.message
            except FailedPrecondition as err:
                one.outcome, one.message = "conflict", err.message
            except DomainError as err:
                one.outcome, one.message = "invalid", err.message
            results.append(one)
        return pipeline_pb2.ImportStageChangesResponse(results=results)

    async def SetSubState(
        self, request: pipeline_pb2.SetSubStateRequest, context: grpc.aio.ServicerContext
    ) -> pipeline_pb2.SetSubStateResponse:
        async with self.runtime.db.transaction() as conn:
            row = await opportunities.set_sub_state(
                conn, self.deps, opportunity_id=_id(request.opportunity_id), sub_state=request.sub_state,
                principal=caller(),
            )
        return pipeline_pb2.SetSubStateResponse(opportunity=await self._view(row))

    async def SetBlockReason(
        self, request: pipeline_pb2.SetBlockReasonRequest, context: grpc.aio.ServicerContext
    ) -> pipeline_pb2.SetBlockReasonResponse:
        async with self.runtime.db.transaction() as conn:
            row = await opportunities.set_block_reason(
                conn, self.deps, opportunity_id=_id(request.opportunity_id), reason=request.reason, principal=caller()
            )
        return pipeline_pb2.SetBlockReasonResponse(opportunity=await self._view(row))

    async def RequestOverride(
        self, request: pipeline_pb2.RequestOverrideRequest, context: grpc.aio.ServicerContext
    ) -> pipeline_pb2.RequestOverrideResponse:
        async with self.runtime.db.transaction() as conn:
            row = await request_override(
                conn, self.deps, opportunity_id=_id(request.opportunity_id), to=request.to_stage,
                reason=request.reason, principal=caller(),
            )
        return pipeline_pb2.RequestOverrideResponse(approval=approval_message(row))

    async def ListApprovals(
        self, request: pipeline_pb2.ListApprovalsRequest, context: grpc.aio.ServicerContext
    ) -> pipeline_pb2.ListApprovalsResponse:
        if request.status not in ("", "pending", "approved", "rejected"):
            raise InvalidArgument([FieldViolation("status", "one of pending, approved, rejected")])
        async with self.runtime.db.connect() as conn:
            rows = await approvals_repo.list_approvals(
                conn, status=request.status or None,
                opportunity_id=_id(request.opportunity_id) if request.opportunity_id else None,
            )
            owners = {
                r.opportunity_id: await repository.get_opportunity(conn, opportunity_id=r.opportunity_id) for r in rows
            }
        principal = caller()
        seen = [
            r for r in rows
            if owners[r.opportunity_id] is not None
            and access.decide(principal, access.AP, access.Action.READ, owner=access.owner_of(owners[r.opportunity_id])).allowed
        ]
        return pipeline_pb2.ListApprovalsResponse(approvals=[approval_message(r) for r in seen])

    async def DecideApproval(
        self, request: pipeline_pb2.DecideApprovalRequest, context: grpc.aio.ServicerContext
    ) -> pipeline_pb2.DecideApprovalResponse:
        try:
            async with self.runtime.db.transaction() as conn:
                decided, result = await decide_approval(
                    conn, self.deps, approval_id=_id(request.approval_id, "approval"), approve=request.approve,
                    reason=request.reason, principal=caller(),
                )
        except MissingEvidence as err:
            await _refuse(err, context)
            raise
        moved = result.opportunity if result is not None else None
        return pipeline_pb2.DecideApprovalResponse(
            approval=approval_message(decided), opportunity=await self._view(moved) if moved is not None else None
        )

    async def ListOpportunityNotifications(
        self, request: pipeline_pb2.ListOpportunityNotificationsRequest, context: grpc.aio.ServicerContext
    ) -> pipeline_pb2.ListOpportunityNotificationsResponse:
        opportunity_id = _id(request.opportunity_id)
        async with self.runtime.db.connect() as conn:
            row = await repository.get_opportunity(conn, opportunity_id=opportunity_id)
            if row is None:
                raise NotFound(f"opportunity {request.opportunity_id!r} not found")
            access.one(opportunity_message(row))
            rows = await approvals_repo.list_notifications(conn, opportunity_id=opportunity_id)
        return pipeline_pb2.ListOpportunityNotificationsResponse(
            notifications=[
                pipeline_pb2.OpportunityNotification(
                    id=str(n.id), kind=n.kind, recipient_id=n.recipient_id, at=to_timestamp(n.at), detail=n.detail
                )
                for n in rows
            ]
        )

    async def GetForecast(
        self, request: pipeline_pb2.GetForecastRequest, context: grpc.aio.ServicerContext
    ) -> pipeline_pb2.GetForecastResponse:
        async with self.runtime.db.connect() as conn:
            rows = await forecast.rows(conn, group_by=request.group_by, month=request.month, principal=caller())
        return pipeline_pb2.GetForecastResponse(month=request.month, rows=rows)

