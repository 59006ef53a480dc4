"""The pipeline's REST contract against a real pipeline service (its own PostgreSQL and nats-server)."""

from __future__ import annotations

import asyncio
import hashlib
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest_asyncio

from crm.pipeline.v1 import pipeline_pb2_grpc
from crm_common.grpc_server import GrpcServer
from crm_common.migrations import upgrade_to_head
from crm_common.service import Runtime
from gateway.core.config import ApiKey, GatewaySettings, Role
from gateway.main import create_app
from gateway.tests.doubles import ASSIGNEE_ID
from gateway.tests.support import ADDRESS_FIELDS, api_keys, assert_problem, auth, closed_port
from pipeline.app import DEFINITION
from pipeline.directory import OwnerInfo, StaticDirectory
from pipeline.handlers import PipelineServicer
from pipeline.settings import PipelineSettings
from tools.devstack import infra

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
FILE_LIMIT = 8 * 1024 * 1024
MANAGER_KEY = "test-key-manager-team-1-0123456789abcdef"
ADMIN_2_KEY = "test-key-admin-two-0123456789abcdef"
OTHER_REP_KEY = "test-key-rep-other-0123456789abcdef"


def _key(raw: str, role: Role, **kw: Any) -> ApiKey:
    return ApiKey(key_sha256=hashlib.sha256(raw.encode()).hexdigest(), role=role, name=raw[9:20], **kw)


def _bearer(raw: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {raw}"}


MANAGER, ADMIN_2, OTHER_REP = _bearer(MANAGER_KEY), _bearer(ADMIN_2_KEY), _bearer(OTHER_REP_KEY)
REP, ADMIN = auth(Role.SALES_REP), auth(Role.ADMIN)

SALES: dict[str, Any] = {
    "name": "B2B sales",
    "stages": [
        {"key": "qualification", "name": "Qualification", "probability": 0.1,
         "actions": [{"key": "talk", "name": "Talk", "evidence": {"kind": "contact", "min": 2}}]},
        {"key": "proposal", "name": "Proposal", "probability": 0.5,
         "sub_states": [{"key": "quote_sent", "name": "Quote sent", "stall_after": "PT24H"}],
         "actions": [{"key": "quote", "name": "Quote", "evidence": {"kind": "file", "media_types": ["application/pdf"]}},
                     {"key": "ok", "name": "Customer confirms", "evidence": {"kind": "confirmation"}}]},
        {"key": "negotiation", "name": "Negotiation", "probability": 0.8},
        {"key": "won", "name": "Won", "probability": 1, "outcome": "won"},
        {"key": "lost", "name": "Lost", "probability": 0, "outcome": "lost"},
    ],
    "skip_rules": [],
}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def edge() -> AsyncIterator[httpx.AsyncClient]:
    """The edge whose pipeline address is a real pipeline service run in the test."""
    with tempfile.TemporaryDirectory(prefix="crm-gw-pipeline-") as tmp:
        pg, nats = infra.PostgresServer(Path(tmp) / "pg"), infra.NatsServer(Path(tmp) / "nats")
        pg.start()
        nats.start()
        try:
            with psycopg.connect(pg.libpq_url, autocommit=True) as conn:
                conn.execute('CREATE DATABASE "pl"')
            url = pg.url.rsplit("/", 1)[0] + "/pl"
            await asyncio.to_thread(upgrade_to_head, DEFINITION.migrations_dir, url=url, schema=DEFINITION.schema)
            runtime = Runtime(DEFINITION, PipelineSettings(environment="test", database_url=url, nats_url=nats.url))
            await runtime.connect_bus()
            directory = StaticDirectory(
                {ASSIGNEE_ID: OwnerInfo(team_id="team-1", manager_id="mgr-1"), "rep-other": OwnerInfo(team_id="team-2")}
            )
            server = GrpcServer(
                port=0, service_names=DEFINITION.grpc_services, max_receive_bytes=DEFINITION.max_message_bytes
            )
            pipeline_pb2_grpc.add_PipelineServiceServicer_to_server(
                PipelineServicer(runtime, directory=directory), server.server
            )
            await server.start()
            addresses = dict.fromkeys(ADDRESS_FIELDS, f"127.0.0.1:{closed_port()}")
            addresses["pipeline"] = f"127.0.0.1:{server.port}"
            keys = [
                *api_keys(),
                _key(MANAGER_KEY, Role.MANAGER, team_ids=("team-1",)),
                _key(ADMIN_2_KEY, Role.ADMIN),
                _key(OTHER_REP_KEY, Role.SALES_REP, rep_id="rep-other"),
            ]
            settings = GatewaySettings(
                environment="test", api_keys=keys, opportunity_file_max_bytes=FILE_LIMIT,
                **{f"{name}_addr": addresses[name] for name in ADDRESS_FIELDS},
            )
            app = create_app(settings)
            async with app.router.lifespan_context(app):
                async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://edge") as client:
                    yield client
            await server.stop(0)
            await runtime.close()
        finally:
            nats.stop()
            pg.stop()


async def _pipeline(edge: httpx.AsyncClient) -> str:
    key = f"sales-{uuid.uuid4().hex[:6]}"
    put = await edge.put(f"/v1/pipelines/{key}", json=SALES, headers=ADMIN)
    assert put.status_code == 200, put.text
    return key


async def _deal(edge: httpx.AsyncClient, key: str, **fields: Any) -> dict[str, Any]:
    body = {"customer_id": "cust-1", "name": "Deal", "amount": 1000, "currency": "CNY", "owner_id": ASSIGNEE_ID,
            "pipeline": key, "expected_close_date": "2030-05-20"} | fields
    created = await edge.post("/v1/opportunities", json=body, headers=REP)
    assert created.status_code == 201, created.text
    return created.json()


async def test_a_create_with_an_idempotency_key_happens_once(edge: httpx.AsyncClient) -> None:
    key = await _pipeline(edge)
    body = {"customer_id": "cust-i", "name": "Deal", "amount": 10, "currency": "CNY", "owner_id": ASSIGNEE_ID, "pipeline": key}
    headers = REP | {"Idempotency-Key": f"k-{uuid.uuid4().hex}"}
    first = await edge.post("/v1/opportunities", json=body, headers=headers)
    again = await edge.post("/v1/opportunities", json=body, headers=headers)
    assert first.status_code == again.status_code == 201 and first.json()["id"] == again.json()["id"]
    other = await edge.post("/v1/opportunities", json=body | {"amount": 11}, headers=headers)
    assert_problem(other, 422, "Idempotency-Key")
    # The key is the caller's own: another caller with the same key creates its own.
    mine = await edge.post("/v1/opportunities", json=body, headers=ADMIN | {"Idempotency-Key": headers["Idempotency-Key"]})
    assert mine.status_code == 201 and mine.json()["id"] != first.json()["id"]


async def test_pipelines_are_versioned_and_validated(edge: httpx.AsyncClient) -> None:
    key = await _pipeline(edge)
    again = await edge.put(f"/v1/pipelines/{key}", json=SALES | {"reason": "again"}, headers=ADMIN)
    assert (again.json()["key"], again.json()["version"]) == (key, 2)
    got = await edge.get(f"/v1/pipelines/{key}", headers=REP)
    assert got.json()["version"] == 2 and got.json()["stages"][1]["actions"][0]["evidence"] == {
        "kind": "file", "media_types": ["application/pdf"],
    }
    assert_problem(await edge.put(f"/v1/pipelines/{key}", json=SALES, headers=REP), 403)
    bad = dict(SALES, stages=[dict(SALES["stages"][0], probability=1.5), *SALES["stages"][1:]])
    assert_problem(await edge.put(f"/v1/pipelines/{key}", json=bad, headers=ADMIN), 422, "stages.0.probability")
    rule = dict(SALES, skip_rules=[{"from": "qualification", "to": "nowhere", "when": {"repeat_customer": True}}])
    assert_problem(await edge.put(f"/v1/pipelines/{key}", json=rule, headers=ADMIN), 422, "skip_rules.0.to")
    no_won = dict(SALES, stages=[s for s in SALES["stages"] if s.get("outcome") != "won"])
    assert_problem(await edge.put(f"/v1/pipelines/{key}", json=no_won, headers=ADMIN), 422, "stages")
    unknown = dict(SALES, stages=[dict(SALES["stages"][0], actions=[{"key": "x", "name": "x", "evidence": {"kind": "dance"}}]),
                                  *SALES["stages"][1:]])
    assert_problem(await edge.put(f"/v1/pipelines/{key}", json=unknown, headers=ADMIN), 422)


async def test_a_deal_moves_only_with_its_evidence(edge: httpx.AsyncClient) -> None:
    key = await _pipeline(edge)
    deal = await _deal(edge, key)
    assert (deal["stage"], deal["version"], deal["status"]) == ("qualification", 1, "open")
    url = f"/v1/opportunities/{deal['id']}"
    dry = await edge.post(f"{url}/stage", json={"to": "proposal", "dry_run": True}, headers=REP)
    assert dry.status_code == 200 and dry.json() == {
        "allowed": False, "needs_approval": False,
        "missing": [{"stage": "qualification", "action": "talk",
                     "need": "at least 2 recorded contact(s) since the stage was entered", "have": "0 contact(s)"}],
    }
    refused = await edge.post(f"{url}/stage", json={"to": "proposal"}, headers=REP)
    assert assert_problem(refused, 409)["missing"] == dry.json()["missing"]
    # A bulk import is refused alike, line by line, and an admin's line like anyone's.
    imported = await edge.post(
        "/v1/opportunity-stage-changes",
        json={"changes": [{"opportunity_id": deal["id"], "to": "proposal"}, {"opportunity_id": str(uuid.uuid4()), "to": "x"}]},
        headers=ADMIN,
    )
    assert [(r["outcome"], r["missing"]) for r in imported.json()["results"]] == [
        ("refused", dry.json()["missing"]), ("not_found", []),
    ]
    for _ in range(2):
        assert (await edge.post(f"{url}/contacts", json={"channel": "phone", "summary": "call"}, headers=REP)).status_code == 201
    moved = await edge.post(f"{url}/stage", json={"to": "proposal", "version": 1}, headers=REP)
    assert moved.status_code == 200 and (moved.json()["stage"], moved.json()["version"]) == ("proposal", 2)
    stale = await edge.post(f"{url}/stage", json={"to": "negotiation", "version": 1}, headers=REP)
    assert_problem(stale, 409)

    assert_problem(await edge.patch(url, json={"stage": "won"}, headers=REP), 422, "/stage")
    patched = await edge.patch(url, json={"amount": 2500.5}, headers=REP)
    assert patched.status_code == 200 and patched.json()["amount"] == 2500.5

    files = f"{url}/files"
    text = await edge.post(files, files={"file": ("quote.pdf", b"not a pdf", "application/pdf")}, data={"action": "quote"}, headers=REP)
    assert_problem(text, 422, "file")
    big = PDF + b"0" * (5 * 1024 * 1024)  # over the edge's 1 MB and gRPC's default 4 MB, under the route's limit
    stored = await edge.post(files, files={"file": ("q", big, "application/octet-stream")}, data={"action": "quote"}, headers=REP)
    assert stored.status_code == 201, stored.text
    assert stored.json() == {"id": stored.json()["id"], "sha256": hashlib.sha256(big).hexdigest(),
                             "media_type": "application/pdf", "size": len(big)}
    huge = PDF + b"0" * (FILE_LIMIT + 1024 * 1024)
    assert_problem(await edge.post(files, files={"file": ("q", huge, "application/pdf")}, data={"action": "quote"}, headers=REP), 413)
    confirm = await edge.post(f"{url}/confirmations", json={"action": "ok", "confirmed_by": "Ms Li", "note": "mail"}, headers=REP)
    assert confirm.status_code == 201
    assert (await edge.post(f"{url}/sub-state", json={"sub_state": "quote_sent"}, headers=REP)).json()["sub_state"] == "quote_sent"
    assert_problem(await edge.post(f"{url}/block-reason", json={"reason": "bored"}, headers=REP), 422, "reason")
    assert (await edge.post(f"{url}/block-reason", json={"reason": "budget frozen"}, headers=REP)).json()["block_reason"] == "budget frozen"
    assert (await edge.post(f"{url}/stage", json={"to": "negotiation"}, headers=REP)).json()["stage"] == "negotiation"
    got = (await edge.get(url, headers=REP)).json()
    assert [(h["stage"], h["left_at"] is None) for h in got["history"]] == [
        ("qualification", False), ("proposal", False), ("negotiation", True),
    ]
    assert got["pending_approval"] is None and got["stalled"] is False
    assert_problem(await edge.get(url, headers=OTHER_REP), 404)
    assert_problem(await edge.post(f"{url}/stage", json={"to": "won"}, headers=OTHER_REP), 404)
    assert (await edge.get(url, headers=auth(Role.VIEWER))).status_code == 200
    assert_problem(await edge.post(f"{url}/contacts", json={"channel": "x"}, headers=auth(Role.VIEWER)), 403)


async def test_approvals_and_the_four_eyes_override(edge: httpx.AsyncClient) -> None:
    key = await _pipeline(edge)
    deal = await _deal(edge, key)
    url = f"/v1/opportunities/{deal['id']}"
    for _ in range(2):
        await edge.post(f"{url}/contacts", json={"channel": "phone"}, headers=REP)
    asked = await edge.post(f"{url}/stage", json={"to": "negotiation", "reason": "urgent"}, headers=REP)
    assert asked.status_code == 202, asked.text
    approval_id = asked.json()["approval_id"]
    assert (await edge.get(url, headers=REP)).json()["pending_approval"]["id"] == approval_id
    pending = await edge.get("/v1/approvals?status=pending", headers=MANAGER)
    assert approval_id in [a["id"] for a in pending.json()["approvals"]]
    assert_problem(await edge.post(f"/v1/approvals/{approval_id}/approve", headers=REP), 403)
    approved = await edge.post(f"/v1/approvals/{approval_id}/approve", json={"reason": "fine"}, headers=MANAGER)
    assert approved.status_code == 200 and approved.json()["opportunity"]["stage"] == "negotiation"

    back = await edge.post(f"{url}/stage", json={"to": "qualification", "reason": "redo"}, headers=MANAGER)
    assert back.status_code == 202
    assert_problem(await edge.post(f"/v1/approvals/{back.json()['approval_id']}/approve", headers=MANAGER), 403)
    assert_problem(await edge.post(f"/v1/approvals/{back.json()['approval_id']}/reject", json={}, headers=ADMIN), 422, "reason")
    rejected = await edge.post(f"/v1/approvals/{back.json()['approval_id']}/reject", json={"reason": "no"}, headers=ADMIN)
    assert rejected.json()["approval"]["status"] == "rejected"

    override = await edge.post(f"{url}/override", json={"to": "won", "reason": "signed on paper"}, headers=ADMIN)
    assert override.status_code == 202
    assert_problem(await edge.post(f"{url}/override", json={"to": "won", "reason": "x"}, headers=MANAGER), 403)
    oid = override.json()["approval_id"]
    assert_problem(await edge.post(f"/v1/approvals/{oid}/approve", headers=ADMIN), 403)
    done = await edge.post(f"/v1/approvals/{oid}/approve", headers=ADMIN_2)
    assert done.status_code == 200 and done.json()["opportunity"]["status"] == "won"
    last = (await edge.get(url, headers=REP)).json()["history"][-1]
    assert (last["stage"], last["override"], last["approved_by"] is not None) == ("won", True, True)
    notices = (await edge.get(f"{url}/notifications", headers=REP)).json()["notifications"]
    assert [n["kind"] for n in notices].count("approval_requested") == 3


async def test_forecast_by_owner_and_team(edge: httpx.AsyncClient) -> None:
    key = await _pipeline(edge)
    await _deal(edge, key, amount=1000, expected_close_date="2035-06-01")
    await _deal(edge, key, amount=3000, expected_close_date="2035-06-30")
    by_owner = await edge.get("/v1/forecast?group_by=owner&month=2035-06", headers=REP)
    assert by_owner.json() == {"month": "2035-06", "rows": [
        {"group": {"owner_id": ASSIGNEE_ID}, "count": 2, "amount": 4000.0, "weighted_amount": 400.0,
         "won_count": 0, "won_amount": 0.0},
    ]}
    by_team = await edge.get("/v1/forecast?group_by=team&month=2035-06", headers=MANAGER)
    assert by_team.json()["rows"][0]["group"] == {"team_id": "team-1"}
    assert_problem(await edge.get("/v1/forecast?group_by=owner&month=2035-13", headers=REP), 422, "month")
