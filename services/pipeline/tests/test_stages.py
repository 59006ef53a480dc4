"""The one path for every stage change: gates with evidence, dry runs, refusals alike at every entry point, history."""

from __future__ import annotations

import asyncio
import uuid

import grpc
import pytest
from grpc_status import rpc_status

from crm.events.v1 import pipeline_events_pb2
from crm.pipeline.v1 import pipeline_pb2, pipeline_pb2_grpc
from crm_common.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from crm_common.grpc_client import channel_as
from crm_common.identity import acting_as
from crm_common.service import Runtime
from pipeline import opportunities
from pipeline.deps import Deps
from pipeline.handlers import PipelineServicer
from pipeline.stages.move import MissingEvidence
from pipeline.tables import stage_history
from pipeline.tests.support import ADMIN, MGR_1, PDF, REP_A, REP_B, VIEWER, get, move, open_deal, put

TALK = [("qualification", "talk", "at least 2 recorded contact(s) since the stage was entered", "0 contact(s)")]


def _missing(items: object) -> list[tuple[str, str, str, str]]:
    return [(m.stage, m.action, m.need, m.have) for m in items]  # type: ignore[attr-defined]


async def _contact(servicer: PipelineServicer, opportunity_id: str, who=REP_A) -> None:
    with acting_as(who):
        await servicer.RecordContact(
            pipeline_pb2.RecordContactRequest(opportunity_id=opportunity_id, channel="phone", summary="call"), None
        )


async def test_a_move_without_evidence_is_refused_naming_what_is_missing(
    servicer: PipelineServicer, runtime: Runtime
) -> None:
    assert runtime.nc is not None
    heard: asyncio.Queue[bytes] = asyncio.Queue()

    async def on_changed(msg: object) -> None:
        await heard.put(msg.data)  # type: ignore[attr-defined]

    sub = await runtime.nc.subscribe("crm.pipeline.stage_changed", cb=on_changed)
    key = await put(servicer)
    deal = await open_deal(servicer, key)
    assert (deal.stage, deal.status, deal.version, deal.pipeline_version) == ("qualification", "open", 1, 1)

    dry = await move(servicer, REP_A, deal.id, "demo", dry_run=True)
    assert (dry.allowed, dry.needs_approval, _missing(dry.missing)) == (False, False, TALK)
    with pytest.raises(MissingEvidence) as refused:
        await move(servicer, REP_A, deal.id, "demo")
    assert _missing(refused.value.missing) == TALK

    await _contact(servicer, deal.id)
    one = await move(servicer, REP_A, deal.id, "demo", dry_run=True)
    assert _missing(one.missing)[0][3] == "1 contact(s)"
    await _contact(servicer, deal.id)
    assert (await move(servicer, REP_A, deal.id, "demo", dry_run=True)).allowed
    assert (await get(servicer, deal.id)).stage == "qualification"  # a dry run moves nothing

    moved = await move(servicer, REP_A, deal.id, "demo", version=1)
    assert (moved.allowed, moved.opportunity.stage, moved.opportunity.version) == (True, "demo", 2)
    after = await get(servicer, deal.id)
    assert [(h.stage, h.by, h.HasField("left_at")) for h in after.history] == [
        ("qualification", "admin-1", True), ("demo", "rep-a", False),
    ]
    # Contacts count since the stage was entered: the new stage's own action is about a field.
    assert [(a.key, a.done) for a in after.actions] == [("close_date", False)]
    event = pipeline_events_pb2.StageChanged()
    async with asyncio.timeout(10):
        while event.opportunity_id != deal.id:
            event.ParseFromString(await heard.get())
    assert (event.from_stage, event.to_stage, event.by, event.pipeline_version, event.override) == (
        "qualification", "demo", "rep-a", 1, False,
    )
    await sub.unsubscribe()


async def test_every_entry_point_is_refused_alike(servicer: PipelineServicer, runtime: Runtime, served: str) -> None:
    key = await put(servicer)
    deal = await open_deal(servicer, key)
    with acting_as(REP_A):
        imported = await servicer.ImportStageChanges(
            pipeline_pb2.ImportStageChangesRequest(
                changes=[
                    pipeline_pb2.StageChange(opportunity_id=deal.id, to_stage="demo"),
                    pipeline_pb2.StageChange(opportunity_id=str(uuid.uuid4()), to_stage="demo"),
                ]
            ),
            None,
        )
    assert [r.outcome for r in imported.results] == ["refused", "not_found"]
    assert _missing(imported.results[0].missing) == TALK
    # Over gRPC: FAILED_PRECONDITION carrying each missing item.
    async with channel_as(served, REP_A) as channel:
        stub = pipeline_pb2_grpc.PipelineServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.MoveStage(pipeline_pb2.MoveStageRequest(opportunity_id=deal.id, to_stage="demo"), timeout=5)
        assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        status = rpc_status.from_call(caught.value)
        assert status is not None and "talk" in status.message
    # An admin is refused like anyone else; a field change cannot carry a stage.
    with pytest.raises(MissingEvidence):
        await move(servicer, ADMIN, deal.id, "demo")
    with pytest.raises(InvalidArgument) as bad:
        async with runtime.db.transaction() as conn:
            await opportunities.update(
                conn, servicer.deps, opportunity_id=uuid.UUID(deal.id), principal=ADMIN, changes={"stage": "won"}
            )
    assert [v.field for v in bad.value.violations] == ["/stage"]
    async with runtime.db.transaction() as conn:
        with pytest.raises(Exception, match="append-only"):
            await conn.execute(stage_history.delete().where(stage_history.c.opportunity_id == uuid.UUID(deal.id)))
    assert (await get(servicer, deal.id)).stage == "qualification"


async def test_evidence_kinds_file_by_content_field_and_confirmation(servicer: PipelineServicer) -> None:
    key = await put(servicer)
    deal = await open_deal(servicer, key, customer="repeat-1")
    # The repeat-customer skip rule needs a won deal of the customer: not yet, so the skip needs an approval.
    assert (await move(servicer, REP_A, deal.id, "proposal", dry_run=True)).needs_approval
    for _ in range(2):
        await _contact(servicer, deal.id)
    await move(servicer, REP_A, deal.id, "demo")
    refused = await move(servicer, REP_A, deal.id, "proposal", dry_run=True)
    assert _missing(refused.missing) == [("demo", "close_date", "field expected_close_date set", "expected_close_date is not set")]
    with acting_as(REP_A):
        await servicer.UpdateOpportunity(
            pipeline_pb2.UpdateOpportunityRequest(
                opportunity_id=deal.id, update_mask=["expected_close_date"], expected_close_date="2027-01-15"
            ),
            None,
        )
    await move(servicer, REP_A, deal.id, "proposal")
    with acting_as(REP_A):
        with pytest.raises(InvalidArgument) as wrong:
            await servicer.AddFile(
                pipeline_pb2.AddFileRequest(opportunity_id=deal.id, action="quote", content=b"just text", filename="q.pdf"), None
            )
        assert "text/plain" in wrong.value.violations[0].description
        stored = await servicer.AddFile(
            pipeline_pb2.AddFileRequest(opportunity_id=deal.id, action="quote", content=PDF, filename="q.bin"), None
        )
        assert (stored.media_type, stored.size, len(stored.sha256)) == ("application/pdf", len(PDF), 64)
    left = await move(servicer, REP_A, deal.id, "won", dry_run=True)
    assert [m.action for m in left.missing] == ["ok"]
    with acting_as(REP_A):
        await servicer.RecordConfirmation(
            pipeline_pb2.RecordConfirmationRequest(opportunity_id=deal.id, action="ok", confirmed_by="Ms Li (CFO)", note="mail"),
            None,
        )
    won = await move(servicer, REP_A, deal.id, "won")
    assert (won.opportunity.status, won.opportunity.stage) == ("won", "won")
    # Now the customer is a repeat customer: its next deal may skip qualification by the rule, without approval.
    again = await open_deal(servicer, key, customer="repeat-1")
    for _ in range(2):
        await _contact(servicer, again.id)
    skipped = await move(servicer, REP_A, again.id, "proposal")
    assert (skipped.allowed, skipped.opportunity.stage) == (True, "proposal")


async def test_one_of_concurrent_moves_wins(servicer: PipelineServicer) -> None:
    key = await put(servicer)
    deal = await open_deal(servicer, key)
    for _ in range(2):
        await _contact(servicer, deal.id)
    results = await asyncio.gather(
        *(move(servicer, REP_A, deal.id, "demo", version=1) for _ in range(4)), return_exceptions=True
    )
    assert sum(1 for r in results if isinstance(r, pipeline_pb2.MoveStageResponse)) == 1
    assert all(isinstance(r, FailedPrecondition) for r in results if not isinstance(r, pipeline_pb2.MoveStageResponse))
    assert (await get(servicer, deal.id)).version == 2


async def test_roles_rep_own_only_viewer_reads(servicer: PipelineServicer) -> None:
    key = await put(servicer)
    deal = await open_deal(servicer, key)
    with pytest.raises(NotFound):
        await move(servicer, REP_B, deal.id, "demo")
    with pytest.raises(NotFound):
        await get(servicer, deal.id, REP_B)
    assert (await get(servicer, deal.id, VIEWER)).id == deal.id
    with pytest.raises(PermissionDenied):
        await move(servicer, VIEWER, deal.id, "lost", reason="x")
    with acting_as(REP_A), pytest.raises(PermissionDenied):
        await servicer.CreateOpportunity(
            pipeline_pb2.CreateOpportunityRequest(
                customer_id="c", name="n", amount="1", currency="CNY", owner_id="rep-b", pipeline=key
            ),
            None,
        )
    lost = await move(servicer, MGR_1, deal.id, "lost", reason="budget frozen")
    assert (lost.opportunity.status, lost.opportunity.lost_reason) == ("lost", "budget frozen")


async def test_bad_input_names_the_field(servicer: PipelineServicer, deps: Deps) -> None:
    key = await put(servicer)
    deal = await open_deal(servicer, key)
    with pytest.raises(InvalidArgument) as unknown:
        await move(servicer, REP_A, deal.id, "heaven")
    assert unknown.value.violations[0].field == "to"
    with pytest.raises(InvalidArgument) as no_reason:
        await move(servicer, REP_A, deal.id, "lost")
    assert no_reason.value.violations[0].field == "reason"
    with acting_as(ADMIN), pytest.raises(InvalidArgument) as bad:
        await servicer.CreateOpportunity(
            pipeline_pb2.CreateOpportunityRequest(
                customer_id="c", name="n", amount="lots", currency="CNY", owner_id="rep-a", pipeline=key
            ),
            None,
        )
    assert bad.value.violations[0].field == "amount"
    with acting_as(REP_A), pytest.raises(InvalidArgument) as sub:
        await servicer.SetSubState(pipeline_pb2.SetSubStateRequest(opportunity_id=deal.id, sub_state="nap"), None)
    assert sub.value.violations[0].field == "sub_state"
    with acting_as(REP_A), pytest.raises(InvalidArgument) as reason:
        await servicer.SetBlockReason(pipeline_pb2.SetBlockReasonRequest(opportunity_id=deal.id, reason="mood"), None)
    assert reason.value.violations[0].field == "reason"
    with acting_as(REP_A):
        blocked = await servicer.SetBlockReason(
            pipeline_pb2.SetBlockReasonRequest(opportunity_id=deal.id, reason="budget frozen"), None
        )
    assert blocked.opportunity.block_reason == "budget frozen"
