"""A pipeline, callers and helpers the pipeline tests share."""

from __future__ import annotations

import asyncio
import copy
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from google.protobuf.json_format import ParseDict

from crm.pipeline.v1 import pipeline_pb2
from crm_common.identity import Principal, Role, acting_as
from pipeline.handlers import PipelineServicer

ADMIN = Principal(subject="admin-1", role=Role.ADMIN)
ADMIN_2 = Principal(subject="admin-2", role=Role.ADMIN)
REP_A = Principal(subject="rep-a", role=Role.SALES_REP, rep_id="rep-a")
REP_B = Principal(subject="rep-b", role=Role.SALES_REP, rep_id="rep-b")
MGR_1 = Principal(subject="mgr-1", role=Role.MANAGER, team_ids=("team-1",))
MGR_2 = Principal(subject="mgr-2", role=Role.MANAGER, team_ids=("team-2",))
VIEWER = Principal(subject="viewer", role=Role.VIEWER)

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"

SALES = {
    "name": "B2B sales",
    "stages": [
        {
            "key": "qualification", "name": "Qualification", "probability": 0.1,
            "actions": [{"key": "talk", "name": "Talk to the customer", "evidence": {"kind": "contact", "min": 2}}],
        },
        {
            "key": "demo", "name": "Demo", "probability": 0.3,
            "sub_states": [
                {"key": "demo_link_sent", "name": "Demo link sent"},
                {"key": "waiting_env", "name": "Waiting for the customer's test environment", "stall_after": "PT24H"},
                {"key": "contract_review", "name": "Contract review"},
            ],
            "actions": [
                {"key": "close_date", "name": "Expected close date", "evidence": {"kind": "field", "field": "expected_close_date"}}
            ],
        },
        {
            "key": "proposal", "name": "Proposal", "probability": 0.6, "stall_clock": "business", "stall_after": "PT8H",
            "actions": [
                {"key": "quote", "name": "Quote sent", "evidence": {"kind": "file", "media_types": ["application/pdf"]}},
                {"key": "ok", "name": "Customer confirms the quote", "evidence": {"kind": "confirmation"}},
            ],
        },
        {"key": "won", "name": "Won", "probability": 1, "outcome": "won"},
        {"key": "lost", "name": "Lost", "probability": 0, "outcome": "lost"},
    ],
    "skip_rules": [{"from": "qualification", "to": "proposal", "when": {"repeat_customer": True}}],
}


def sales(**changes: Any) -> dict[str, Any]:
    doc = copy.deepcopy(SALES)
    doc.update(changes)
    return doc


def pipeline_proto(key: str, doc: dict[str, Any]) -> pipeline_pb2.Pipeline:
    """The Pipeline message of a REST-shaped document."""
    body = copy.deepcopy(doc)
    for stage in body.get("stages", []):
        if stage.get("outcome") is None:
            stage.pop("outcome", None)
    body["skip_rules"] = [
        {"from_stage": r["from"], "to_stage": r["to"], "when": r.get("when", {})} for r in body.get("skip_rules", [])
    ]
    return ParseDict(body | {"key": key}, pipeline_pb2.Pipeline())


async def put(servicer: PipelineServicer, doc: dict[str, Any] | None = None, key: str | None = None) -> str:
    key = key or f"p-{uuid.uuid4().hex[:8]}"
    with acting_as(ADMIN):
        await servicer.PutPipeline(pipeline_pb2.PutPipelineRequest(pipeline=pipeline_proto(key, doc or SALES)), None)
    return key


async def open_deal(
    servicer: PipelineServicer, key: str, *, owner: str = "rep-a", customer: str | None = None, **fields: str
) -> pipeline_pb2.Opportunity:
    request = pipeline_pb2.CreateOpportunityRequest(
        customer_id=customer or f"cust-{uuid.uuid4().hex[:6]}", name="Deal", amount=fields.get("amount", "1000"),
        currency="CNY", owner_id=owner, pipeline=key, expected_close_date=fields.get("expected_close_date", ""),
    )
    with acting_as(ADMIN):
        return (await servicer.CreateOpportunity(request, None)).opportunity


async def move(
    servicer: PipelineServicer, who: Principal, opportunity_id: str, to: str, **kw: Any
) -> pipeline_pb2.MoveStageResponse:
    with acting_as(who):
        return await servicer.MoveStage(pipeline_pb2.MoveStageRequest(opportunity_id=opportunity_id, to_stage=to, **kw), None)


async def get(servicer: PipelineServicer, opportunity_id: str, who: Principal = ADMIN) -> pipeline_pb2.Opportunity:
    with acting_as(who):
        return (await servicer.GetOpportunity(pipeline_pb2.GetOpportunityRequest(opportunity_id=opportunity_id), None)).opportunity


async def wait_for(condition: Callable[[], Awaitable[bool]]) -> None:
    """Poll a condition another task makes true, for up to 10 s."""
    for _ in range(200):
        if await condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met within 10 s")
