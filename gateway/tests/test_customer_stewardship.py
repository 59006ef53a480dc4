"""Change requests and dedup jobs over REST, against a real customer-master (its own PostgreSQL and nats-server)."""

from __future__ import annotations

import asyncio
import contextlib
import random
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest_asyncio

from crm.customer.v1 import customer_pb2, customer_pb2_grpc
from crm_common.grpc_server import GrpcServer
from crm_common.migrations import upgrade_to_head
from crm_common.service import Runtime
from customer_master.app import DEFINITION, build
from customer_master.settings import CustomerMasterSettings
from gateway.core.config import Role
from gateway.main import create_app
from gateway.tests.doubles import ASSIGNEE_ID
from gateway.tests.support import ADDRESS_FIELDS, assert_problem, auth, closed_port, lead_service_stub, settings_for
from tools.devstack import infra

_CHARS = (
    "甲乙丙丁戊己庚辛壬癸金木水火土天地玄黄宇宙洪荒日月盈昃辰宿列张寒来暑往秋收冬藏闰余成岁律吕调阳云腾致雨露结为霜"
)
DIRECTOR = auth(Role.CUSTOMER_SUCCESS_DIRECTOR)
MANAGER = auth(Role.MANAGER)
REP = auth(Role.SALES_REP)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def steward_edge() -> AsyncIterator[httpx.AsyncClient]:
    """The edge in front of a customer-master that runs its background work (the dedup job worker) too."""
    with tempfile.TemporaryDirectory(prefix="crm-gw-steward-") as tmp:
        pg = infra.PostgresServer(Path(tmp) / "pg")
        nats = infra.NatsServer(Path(tmp) / "nats")
        pg.start()
        nats.start()
        try:
            with psycopg.connect(pg.libpq_url, autocommit=True) as conn:
                conn.execute('CREATE DATABASE "cm"')
            url = pg.url.rsplit("/", 1)[0] + "/cm"
            await asyncio.to_thread(upgrade_to_head, DEFINITION.migrations_dir, url=url, schema=DEFINITION.schema)
            settings = CustomerMasterSettings(
                environment="test", database_url=url, nats_url=nats.url, dedup_poll_seconds=0.1
            )
            runtime = Runtime(DEFINITION, settings)
            await runtime.connect_bus()
            wiring = await build(runtime)
            server = GrpcServer(port=0, service_names=DEFINITION.grpc_services)
            wiring.register(server.server)
            await server.start()
            background = [asyncio.create_task(job()) for job in wiring.background]
            addresses = dict.fromkeys(ADDRESS_FIELDS, f"127.0.0.1:{closed_port()}")
            addresses["customer_master"] = f"127.0.0.1:{server.port}"
            app = create_app(settings_for(addresses))
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://edge") as client:
                    yield client
            for task in background:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                    await asyncio.wait_for(task, 10)
            await server.stop(0)
            await runtime.close()
        finally:
            nats.stop()
            pg.stop()


def _stub(edge: httpx.AsyncClient) -> customer_pb2_grpc.CustomerServiceStub:
    return lead_service_stub(edge)


async def _customer(edge: httpx.AsyncClient, company: str) -> str:
    reply = await _stub(edge).ResolveCustomer(customer_pb2.ResolveCustomerRequest(company=company), timeout=5)
    return reply.customer.id


def _core() -> str:
    return "".join(random.sample(_CHARS, 5))


async def test_change_requests_are_listed_approved_and_rejected_over_rest(steward_edge: httpx.AsyncClient) -> None:
    customer_id = await _customer(steward_edge, _core() + "有限公司")
    # The rep files requests on a customer it works with (here: as its steward); others' customers are not its.
    steward = customer_pb2.UpdateCustomerFieldRequest(customer_id=customer_id, field="steward_id", value=ASSIGNEE_ID)
    await _stub(steward_edge).UpdateCustomerField(steward, timeout=5)
    filed = await steward_edge.post(
        f"/v1/customers/{customer_id}/change-requests?field=credit_code",
        json={"value": "91350100M000100Y43", "reason": "licence"},
        headers=REP,
    )
    assert filed.status_code == 201, filed.text
    request_id = filed.json()["change_request_id"]
    listed = await steward_edge.get(f"/v1/customers/{customer_id}/change-requests", headers=REP)
    assert [(r["id"], r["status"], r["old_value"]) for r in listed.json()["change_requests"]] == [
        (request_id, "open", "")
    ]
    queue = await steward_edge.get("/v1/customer-change-requests", headers=DIRECTOR)
    assert request_id in {r["id"] for r in queue.json()["change_requests"]}
    assert_problem(await steward_edge.get("/v1/customer-change-requests", headers=REP), 403)

    refused = await steward_edge.post(f"/v1/customer-change-requests/{request_id}/approve", json={}, headers=MANAGER)
    assert "customer_success_director" in assert_problem(refused, 403)["detail"]
    approved = await steward_edge.post(
        f"/v1/customer-change-requests/{request_id}/approve", json={"reason": "checked"}, headers=DIRECTOR
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["customer"]["credit_code"] == "91350100M000100Y43"
    assert approved.json()["change_request"]["status"] == "approved"
    twice = await steward_edge.post(f"/v1/customer-change-requests/{request_id}/approve", json={}, headers=DIRECTOR)
    assert "already approved" in assert_problem(twice, 409)["detail"]
    history = await steward_edge.get(f"/v1/customers/{customer_id}/history", headers=REP)
    assert history.json()["changes"][0]["change_request_id"] == request_id

    other = await steward_edge.post(
        f"/v1/customers/{customer_id}/change-requests?field=first_cooperation_date",
        json={"value": "2024-03-01"},
        headers=REP,
    )
    other_id = other.json()["change_request_id"]
    no_reason = await steward_edge.post(f"/v1/customer-change-requests/{other_id}/reject", json={}, headers=DIRECTOR)
    assert_problem(no_reason, 422, "reason")
    rejected = await steward_edge.post(
        f"/v1/customer-change-requests/{other_id}/reject", json={"reason": "no contract yet"}, headers=DIRECTOR
    )
    assert rejected.json()["change_request"]["decision_reason"] == "no contract yet"
    assert_problem(await steward_edge.post("/v1/customer-change-requests/nope/reject", json={"reason": "x"}, headers=DIRECTOR), 404)  # fmt: skip


async def _finished(edge: httpx.AsyncClient, job_id: str) -> dict[str, Any]:
    """The job once done or failed (or as it is after 30 s, for the caller's assert to show)."""
    deadline = asyncio.get_running_loop().time() + 30.0
    while True:
        body: dict[str, Any] = (await edge.get(f"/v1/customer-dedup-jobs/{job_id}", headers=MANAGER)).json()
        if body["job"]["status"] in ("done", "failed") or asyncio.get_running_loop().time() > deadline:
            return body
        await asyncio.sleep(0.1)


async def test_a_csv_upload_runs_as_a_job_and_reports_clusters(steward_edge: httpx.AsyncClient) -> None:
    core = _core()
    csv_file = f"ref,company,phone\nA1,杭州{core}科技股份有限公司,\nA2,{core}科技,\nA3,{_core()}贸易,+8613900000001\n"
    started = await steward_edge.post(
        "/v1/customer-dedup-jobs",
        files={"file": ("customers.csv", csv_file.encode(), "text/csv")},
        headers={**MANAGER, "Idempotency-Key": f"k-{uuid.uuid4()}"},
    )
    assert started.status_code == 202, started.text
    job = started.json()
    assert (job["status"], job["scope"], job["records_total"], job["created"]) == ("queued", "file", "3", True)
    assert started.headers["location"] == f"/v1/customer-dedup-jobs/{job['id']}"
    body = await _finished(steward_edge, job["id"])
    assert body["job"]["status"] == "done", body["job"]["error"]
    cluster = body["clusters"][0]
    assert sorted(m["ref"] for m in cluster["members"]) == ["A1", "A2"]
    assert cluster["pairs"][0]["explanation"]["decision"] == "auto_match"
    listed = await steward_edge.get("/v1/customer-dedup-jobs", headers=MANAGER)
    assert job["id"] in {j["id"] for j in listed.json()["jobs"]}

    raw = await steward_edge.post(
        "/v1/customer-dedup-jobs",
        content=b'{"company": "x"}\n{"company": "y"}\n',
        headers={**MANAGER, "Content-Type": "application/x-ndjson"},
    )
    assert raw.status_code == 202 and raw.json()["records_total"] == "2"
    base = await steward_edge.post("/v1/customer-dedup-jobs", json={"scope": "base"}, headers=DIRECTOR)
    assert base.status_code == 202 and base.json()["scope"] == "base"
    assert (await _finished(steward_edge, base.json()["id"]))["job"]["status"] == "done"
    assert (await _finished(steward_edge, raw.json()["id"]))["job"]["status"] == "done"


async def test_a_malformed_upload_names_the_row_and_column(steward_edge: httpx.AsyncClient) -> None:
    bad = "company,phone\n甲公司,+8613900000001\n乙公司,call me\n"
    refused = await steward_edge.post(
        "/v1/customer-dedup-jobs", content=bad.encode(), headers={**MANAGER, "Content-Type": "text/csv"}
    )
    body = assert_problem(refused, 422, "file.row[2].phone")
    assert "line 3" in body["errors"][0]["message"]
    no_file = await steward_edge.post("/v1/customer-dedup-jobs", files={"other": ("a.csv", b"x")}, headers=MANAGER)
    assert_problem(no_file, 422, "file")
    huge = await steward_edge.post(
        "/v1/customer-dedup-jobs",
        content=b"company\n" + b"x" * (1024 * 1024 + 10),
        headers={**MANAGER, "Content-Type": "text/csv"},
    )
    assert_problem(huge, 413)
    wrong_type = await steward_edge.post(
        "/v1/customer-dedup-jobs", content=b"<xml/>", headers={**MANAGER, "Content-Type": "application/xml"}
    )
    assert_problem(wrong_type, 415)
    bad_json = await steward_edge.post("/v1/customer-dedup-jobs", json={"scope": "all"}, headers=MANAGER)
    assert_problem(bad_json, 422, "scope")
    assert_problem(await steward_edge.post("/v1/customer-dedup-jobs", json={"scope": "base"}, headers=REP), 403)
    assert_problem(await steward_edge.get(f"/v1/customer-dedup-jobs/{uuid.uuid4()}", headers=MANAGER), 404)
