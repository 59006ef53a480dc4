"""Contact and survivorship routes against a real customer-master (its own PostgreSQL and nats-server)."""

from __future__ import annotations

import asyncio
import hashlib
import random
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import psycopg
import pytest_asyncio

from crm.customer.v1 import customer_pb2, customer_pb2_grpc
from crm_common.grpc_server import GrpcServer
from crm_common.migrations import upgrade_to_head
from crm_common.service import Runtime
from customer_master.app import DEFINITION, build
from customer_master.contact_intake import process_intake
from customer_master.settings import CustomerMasterSettings
from gateway.core.config import Role
from gateway.main import create_app
from gateway.tests.support import (
    ADDRESS_FIELDS,
    KEYS,
    assert_problem,
    auth,
    closed_port,
    lead_service_stub,
    settings_for,
)
from tools.devstack import infra


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def contact_stack() -> AsyncIterator[tuple[httpx.AsyncClient, Runtime]]:
    """The edge whose customer-master address is a real customer-master process-in-the-test, and its runtime."""
    with tempfile.TemporaryDirectory(prefix="crm-gw-contacts-") as tmp:
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
                    yield client, runtime
            await server.stop(0)
            await runtime.close()
        finally:
            nats.stop()
            pg.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def contact_edge(contact_stack: tuple[httpx.AsyncClient, Runtime]) -> httpx.AsyncClient:
    return contact_stack[0]


async def _resolve(stack: tuple[httpx.AsyncClient, Runtime], **fields: str) -> customer_pb2.ResolveCustomerResponse:
    """Resolve as the lead service does, then let the intake worker link the person to a contact."""
    reply = await _customer_stub(stack[0]).ResolveCustomer(customer_pb2.ResolveCustomerRequest(**fields), timeout=5)
    await process_intake(stack[1].db)
    return reply


def _customer_stub(client: httpx.AsyncClient) -> customer_pb2_grpc.CustomerServiceStub:
    return lead_service_stub(client)


async def test_contacts_are_listed_read_and_matched_by_stewards(contact_stack: tuple[httpx.AsyncClient, Runtime]) -> None:
    contact_edge = contact_stack[0]
    phone = f"+86135{random.randrange(10**8):08d}"
    company = f"{uuid.uuid4().hex[:8]}有限公司"
    resolved = await _resolve(contact_stack, name="张丽女士", company=company, phone=phone, source_ref="lead:r1")
    await _resolve(contact_stack, name="张总", company=company, phone=phone, source_ref="lead:r2")
    # A viewer sees figures, not people: no search by phone, contacts without phone, e-mail or sources.
    assert_problem(await contact_edge.post("/v1/contacts/match", json={"phone": phone}, headers=auth(Role.VIEWER)), 403)
    masked = await contact_edge.get(f"/v1/customers/{resolved.customer.id}/contacts", headers=auth(Role.VIEWER))
    assert masked.status_code == 200 and phone not in masked.text
    viewer = auth(Role.CUSTOMER_SUCCESS_DIRECTOR)
    listed = await contact_edge.get(f"/v1/customers/{resolved.customer.id}/contacts", headers=viewer)
    assert listed.status_code == 200, listed.text
    (contact,) = listed.json()["contacts"]
    assert contact["name"] == "张丽女士" and contact["provenance"]["name"]["rule"] == "most_complete"

    got = await contact_edge.get(f"/v1/contacts/{contact['id']}", headers=viewer)
    assert [s["name"] for s in got.json()["sources"]] == ["张丽女士", "张总"]
    assert got.json()["sources"][1]["match"]["decision"] == "auto_match"

    national = phone.removeprefix("+86")
    matched = await contact_edge.post(
        "/v1/contacts/match", json={"name": "Li Zhang", "phone": f"{national[:3]} {national[3:7]} {national[7:]}"},
        headers=viewer,
    )
    best = matched.json()["candidates"][0]
    assert best["contact"]["id"] == contact["id"] and best["decision"] == "auto_match"
    assert {f["field"] for f in best["explanation"]["fields"]} == {"name", "phone", "email", "account"}

    assert_problem(await contact_edge.post("/v1/contacts/match", json={"phone": "12"}, headers=viewer), 422, "phone")
    assert_problem(
        await contact_edge.post("/v1/contacts/match", json={"phone": phone, "fax": "1"}, headers=viewer), 422, "fax"
    )
    assert_problem(await contact_edge.get(f"/v1/contacts/{uuid.uuid4()}", headers=viewer), 404)
    assert_problem(await contact_edge.get("/v1/contacts/not-an-id", headers=viewer), 404)
    assert_problem(await contact_edge.get(f"/v1/customers/{uuid.uuid4()}/contacts", headers=viewer), 404)


async def test_only_admins_set_survivorship_rules_and_bad_rules_name_the_field(contact_edge: httpx.AsyncClient) -> None:
    current = await contact_edge.get("/v1/survivorship-rules", headers=auth(Role.VIEWER))
    assert current.status_code == 200 and current.json()["rules"]["contact"]["phone"] == {"rule": "most_recent"}
    rules = {"account": {"company": {"rule": "most_trusted", "sources": ["erp", "lead"]}}}
    for role in (Role.VIEWER, Role.MANAGER, Role.CUSTOMER_SUCCESS_DIRECTOR, Role.SALES_REP):
        assert_problem(await contact_edge.put("/v1/survivorship-rules", json=rules, headers=auth(role)), 403)
    bad = await contact_edge.put(
        "/v1/survivorship-rules", json={"contact": {"fax": "most_recent", "name": {"rule": "longest"}}},
        headers=auth(Role.ADMIN),
    )
    body = assert_problem(bad, 422, "rules.contact.fax", "rules.contact.name.rule")
    assert "most_trusted, most_recent, most_complete" in " ".join(e["message"] for e in body["errors"])
    stored = await contact_edge.put(
        "/v1/survivorship-rules?reason=ERP%20is%20checked", json=rules, headers=auth(Role.ADMIN)
    )
    assert stored.status_code == 200, stored.text
    assert stored.json()["version"] == current.json()["version"] + 1
    assert stored.json()["rules"]["account"]["company"] == {"rule": "most_trusted", "sources": ["erp", "lead"]}
    now = await contact_edge.get("/v1/survivorship-rules", headers=auth(Role.SALES_REP))
    # Who set them is the verified caller (its key's subject), not a name the request could carry.
    admin_key = hashlib.sha256(KEYS[Role.ADMIN].encode()).hexdigest()
    assert (now.json()["version"], now.json()["reason"], now.json()["set_by"]) == (
        stored.json()["version"],
        "ERP is checked",
        "key:" + hashlib.sha256(admin_key.encode()).hexdigest()[:16],
    )


async def test_stewards_merge_and_undo_contacts_over_rest(contact_stack: tuple[httpx.AsyncClient, Runtime]) -> None:
    contact_edge = contact_stack[0]
    company = f"{uuid.uuid4().hex[:8]}有限公司"
    for ref, name in (("lead:m1", "陈静"), ("lead:m2", "陈晶")):
        phone = f"+86135{random.randrange(10**8):08d}"
        resolved = await _resolve(contact_stack, name=name, company=company, phone=phone, source_ref=ref)
    listed = await contact_edge.get(f"/v1/customers/{resolved.customer.id}/contacts", headers=auth(Role.VIEWER))
    first, second = (c["id"] for c in listed.json()["contacts"])
    body = {"survivor_id": first, "merged_id": second, "reason": "same person, typo"}
    assert_problem(await contact_edge.post("/v1/contact-merges", json=body, headers=auth(Role.SALES_REP)), 403)
    assert_problem(await contact_edge.post("/v1/contact-merges", json=body, headers=auth(Role.VIEWER)), 403)
    merged = await contact_edge.post("/v1/contact-merges", json=body, headers=auth(Role.CUSTOMER_SUCCESS_DIRECTOR))
    assert merged.status_code == 201, merged.text
    assert len(merged.json()["survivor"]["provenance"]) == 2
    same = {"survivor_id": first, "merged_id": first}
    assert_problem(await contact_edge.post("/v1/contact-merges", json=same, headers=auth(Role.MANAGER)), 422, "merged_id")
    undo = f"/v1/contact-merges/{merged.json()['merge_id']}/undo"
    undone = await contact_edge.post(undo, headers=auth(Role.MANAGER))
    assert undone.status_code == 200 and undone.json()["restored"]["id"] == second
    assert_problem(await contact_edge.post(undo, headers=auth(Role.MANAGER)), 409)


async def test_contact_match_rules_are_read_by_all_and_set_by_admins(contact_edge: httpx.AsyncClient) -> None:
    current = await contact_edge.get("/v1/contact-match-rules", headers=auth(Role.SALES_REP))
    assert current.status_code == 200 and current.json()["auto_match"] == 90
    assert_problem(
        await contact_edge.put("/v1/contact-match-rules", json={"review": 60}, headers=auth(Role.MANAGER)), 403
    )
    bad = await contact_edge.put(
        "/v1/contact-match-rules", json={"auto_match": 50, "review": 80, "weights": {"fax": 1}}, headers=auth(Role.ADMIN)
    )
    assert_problem(bad, 422, "rules.review", "rules.weights.fax")
    stored = await contact_edge.put("/v1/contact-match-rules", json={"review": 60}, headers=auth(Role.ADMIN))
    assert stored.status_code == 200 and (stored.json()["review"], stored.json()["auto_match"]) == (60, 90)
