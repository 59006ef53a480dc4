"""Pipelines as data: validation naming each field, versions with who/when/why."""

from __future__ import annotations

from typing import Any

import pytest

from crm.pipeline.v1 import pipeline_pb2
from crm_common.errors import InvalidArgument
from crm_common.identity import acting_as
from pipeline.definitions.model import DEFAULT_BLOCK_REASONS, parse, to_doc
from pipeline.handlers import PipelineServicer
from pipeline.tests.support import ADMIN, SALES, pipeline_proto, put, sales


def _fields(doc: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(InvalidArgument) as caught:
        parse("sales", doc)
    return {v.field: v.description for v in caught.value.violations}


def test_a_valid_pipeline_parses_with_defaults() -> None:
    pipeline = parse("sales", SALES)
    assert [s.key for s in pipeline.stages] == ["qualification", "demo", "proposal", "won", "lost"]
    assert [s.key for s in pipeline.path] == ["qualification", "demo", "proposal", "won"]
    assert pipeline.stage("qualification").stall_after.total_seconds() == 72 * 3600
    assert pipeline.stage("proposal").stall_clock == "business"
    assert pipeline.block_reasons == DEFAULT_BLOCK_REASONS and len(DEFAULT_BLOCK_REASONS) == 12
    assert parse("sales", to_doc(pipeline)) == pipeline


def test_every_bad_field_is_named_at_once() -> None:
    doc = sales()
    doc["stages"][1]["key"] = "qualification"
    doc["stages"][2]["probability"] = 1.5
    doc["stages"][0]["actions"][0]["evidence"] = {"kind": "telepathy"}
    doc["stages"][2]["stall_after"] = "three days"
    doc["skip_rules"] = [{"from": "qualification", "to": "nowhere", "when": {"repeat_customer": True}}]
    found = _fields(doc)
    assert set(found) >= {
        "stages.1.key", "stages.2.probability", "stages.0.actions.0.evidence.kind", "stages.2.stall_after",
        "skip_rules.0.to",
    }
    assert "duplicate" in found["stages.1.key"]
    assert "telepathy" in found["stages.0.actions.0.evidence.kind"]


def test_won_and_lost_outcomes_are_required() -> None:
    doc = sales(stages=[s for s in SALES["stages"] if s.get("outcome") is None])
    with pytest.raises(InvalidArgument) as caught:
        parse("sales", doc)
    assert [(v.field, v.description) for v in caught.value.violations] == [
        ("stages", "needs a stage with outcome 'won'"),
        ("stages", "needs a stage with outcome 'lost'"),
    ]


def test_more_than_five_sub_states_or_actions_is_refused() -> None:
    doc = sales()
    doc["stages"][1]["sub_states"] = [{"key": f"s{i}", "name": f"S{i}"} for i in range(6)]
    assert "stages.1.sub_states" in _fields(doc)


def test_unknown_field_evidence_and_media_type_are_named() -> None:
    doc = sales()
    doc["stages"][1]["actions"][0]["evidence"]["field"] = "colour"
    doc["stages"][2]["actions"][0]["evidence"]["media_types"] = ["pdf"]
    found = _fields(doc)
    assert {"stages.1.actions.0.evidence.field", "stages.2.actions.0.evidence.media_types"} <= set(found)


async def test_each_put_is_a_new_version_with_who_and_why(servicer: PipelineServicer) -> None:
    key = await put(servicer)
    changed = sales(name="B2B sales v2")
    with acting_as(ADMIN):
        second = await servicer.PutPipeline(
            pipeline_pb2.PutPipelineRequest(pipeline=pipeline_proto(key, changed), reason="renamed"), None
        )
        live = await servicer.GetPipeline(pipeline_pb2.GetPipelineRequest(key=key), None)
        first = await servicer.GetPipeline(pipeline_pb2.GetPipelineRequest(key=key, version=1), None)
    assert (second.pipeline.version, second.pipeline.created_by, second.pipeline.reason) == (2, "admin-1", "renamed")
    assert (live.pipeline.version, live.pipeline.name) == (2, "B2B sales v2")
    assert (first.pipeline.version, first.pipeline.name) == (1, "B2B sales")
    assert [s.key for s in live.pipeline.stages][:2] == ["qualification", "demo"]
    assert live.pipeline.skip_rules[0].from_stage == "qualification"
