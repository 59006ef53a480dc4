"""Customer routes against a real customer-master (its own PostgreSQL and nats-server), through the edge."""

from __future__ import annotations

import asyncio
import random
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import psycopg
import pytest_asyncio

from crm.customer.v1 import customer_pb2
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


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def customer_edge() -> AsyncIterator[httpx.AsyncClient]:
    """The edge whose customer-master address is a real customer-master process-in-the-test."""
    with tempfile.TemporaryDirectory(prefix="crm-gw-cm-") as tmp:
        pg = infra.PostgresServer(Path(tmp) / "pg")
        nats = infra.NatsServer(Path(tmp) / "nats")
        pg.start()
        nats.start()
        try:
            with psycopg.connect(pg.libpq_url, autocommit=True) as conn:
                conn.execute('CREATE DATABASE "cm"')
            url = pg.url.rsplit("/", 1)[0] + "/cm"
            await asyncio.to_thread(upgrade_to_head, DEFINITION.migrations_dir, url=url, schema=DEFINITION.schema)
            settings = CustomerMasterSettings(environment="test", database_url=url, nats_url=nats.url)
            runtime = Runtime(DEFINITION, settings)
            await runtime.connect_bus()
            server = GrpcServer(port=0, service_names=DEFINITION.grpc_services)
            (await build(runtime)).register(server.server)
            await server.start()
            addresses = dict.fromkeys(ADDRESS_FIELDS, f"127.0.0.1:{closed_port()}")
            addresses["customer_master"] = f"127.0.0.1:{server.port}"
            app = create_app(settings_for(addresses))
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://edge") as client:
                    yield client
            await server.stop(0)
            await runtime.close()
        finally:
            nats.stop()
            pg.stop()


async def test_match_merge_unmerge_and_history_over_rest(customer_edge: httpx.AsyncClient) -> None:
    core = "".join(random.sample(_CHARS, 5))
    # Records arrive through ResolveCustomer (the lead service's call); the edge then serves the stewards.
    # A customer success director: every customer in full (a manager sees only its teams' customers).
    manager = auth(Role.CUSTOMER_SUCCESS_DIRECTOR)
    first = await customer_edge.post("/v1/customers/match", json={"company": f"{core}科技"}, headers=manager)
    assert first.status_code == 200 and first.json()["candidates"] == []

    stub = lead_service_stub(customer_edge)
    a = await stub.ResolveCustomer(customer_pb2.ResolveCustomerRequest(company=f"北京{core}科技有限公司"), timeout=5)
    b = await stub.ResolveCustomer(customer_pb2.ResolveCustomerRequest(company=f"杭州{core}科技"), timeout=5)
    assert b.review_id

    matched = await customer_edge.post("/v1/customers/match", json={"company": f"{core}科技有限公司"}, headers=manager)
    best = matched.json()["candidates"][0]
    assert best["decision"] == "auto_match" and best["explanation"]["fields"][0]["field"] == "company"

    queue = await customer_edge.get("/v1/customer-reviews", headers=manager)
    assert b.review_id in {r["id"] for r in queue.json()["reviews"]}
    accepted = await customer_edge.post(
        f"/v1/customer-reviews/{b.review_id}/decision", json={"decision": "accept", "reason": "same"}, headers=manager
    )
    assert accepted.status_code == 200 and accepted.json()["review"]["status"] == "accepted"
    merge_id = accepted.json()["merge_id"]
    merged = await customer_edge.get(f"/v1/customers/{b.customer.id}", headers=manager)
    assert merged.json()["merged_into"] == a.customer.id

    undone = await customer_edge.post(f"/v1/customer-merges/{merge_id}/undo", headers=manager)
    assert undone.status_code == 200 and undone.json()["restored"]["merged_into"] == ""
    again = await customer_edge.post(f"/v1/customer-merges/{merge_id}/undo", headers=manager)
    assert_problem(again, 409)

    history = await customer_edge.get(f"/v1/customers/{a.customer.id}/history", headers=manager)
    assert [c["field"] for c in history.json()["changes"]][:2] == ["unmerge", "merge"]
    assert history.json()["changes"][0]["actor_role"] == ""


async def test_golden_fields_permissions_and_errors_over_rest(customer_edge: httpx.AsyncClient) -> None:
    stub = lead_service_stub(customer_edge)
    core = "".join(random.sample(_CHARS, 5))
    created = await stub.ResolveCustomer(customer_pb2.ResolveCustomerRequest(company=f"{core}有限公司"), timeout=5)
    customer_id = created.customer.id
    # The rep works this customer (its steward): it may change its ordinary fields, never its golden ones.
    steward = customer_pb2.UpdateCustomerFieldRequest(customer_id=customer_id, field="steward_id", value=ASSIGNEE_ID)
    await stub.UpdateCustomerField(steward, timeout=5)
    denied = await customer_edge.put(
        f"/v1/customers/{customer_id}/fields/credit_code",
        json={"value": "91350100M000100Y43", "reason": "card"},
        headers=auth(Role.SALES_REP),
    )
    assert_problem(denied, 403)
    filed = await customer_edge.post(
        f"/v1/customers/{customer_id}/change-requests?field=credit_code",
        json={"value": "91350100M000100Y43", "reason": "card"},
        headers=auth(Role.SALES_REP),
    )
    assert filed.status_code == 201 and filed.json()["change_request_id"]
    named = await customer_edge.put(
        f"/v1/customers/{customer_id}/fields/name",
        json={"value": "赵敏", "reason": "met"},
        headers=auth(Role.SALES_REP),
    )
    assert named.status_code == 200 and named.json()["name"] == "赵敏"
    bad = await customer_edge.post(
        "/v1/customers/match", json={"credit_code": "91350100M000100Y44"}, headers=auth(Role.MANAGER)
    )
    assert_problem(bad, 422, "credit_code")
    assert_problem(await customer_edge.get(f"/v1/customers/{uuid.uuid4()}", headers=auth(Role.MANAGER)), 404)
    assert_problem(await customer_edge.get("/v1/customer-reviews", headers=auth(Role.SALES_REP)), 403)
    health = await customer_edge.get("/v1/customers/data-health", headers=auth(Role.VIEWER))
    assert health.status_code == 200 and int(health.json()["customers"]) >= 1
    moved = await customer_edge.post(
        "/v1/stewards/reassign", json={"from_rep_id": "nobody", "to_rep_id": "someone"}, headers=auth(Role.ADMIN)
    )
    assert moved.status_code == 200 and moved.json()["reassigned"] == 0
    rules = await customer_edge.get("/v1/customer-match-rules", headers=auth(Role.ADMIN))
    assert rules.json()["auto_match"] == 90
    refused = await customer_edge.put(
        "/v1/customer-match-rules", json={"auto_match": 50, "review": 80}, headers=auth(Role.ADMIN)
    )
    assert_problem(refused, 422)
