"""Generated from the edge's OpenAPI: every /v1 route, called with an id as every role, gets the matrix's answer.

OWASP API1 (object level), API3 (property level: no personal data in a refusal) and API5 (function level). The
owner / non-owner half runs against a real customer master (the doubles behind the other routes decide nothing).
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from crm.customer.v1 import customer_pb2
from crm_common.access import MATRIX, Action, Resource, allowed_roles
from gateway.api.main import API_ROUTERS
from gateway.core.config import Role
from gateway.main import create_app
from gateway.tests.doubles import ASSIGNEE_ID
from gateway.tests.support import (
    ADDRESS_FIELDS,
    KEYS,
    assert_problem,
    auth,
    closed_port,
    lead_service_stub,
    settings_for,
)
from gateway.tests.test_customers import customer_edge  # noqa: F401  (a real customer master behind the edge)

PERSON = re.compile(r"\+?86\d{11}|@example\.")
# Path parameters that are not UUIDs: a name of the pattern the route accepts.
NAMES = {"name": "sms", "field": "name"}


def _app() -> FastAPI:
    addresses = dict.fromkeys(ADDRESS_FIELDS, f"127.0.0.1:{closed_port()}")
    return create_app(settings_for(addresses))


def _access_of(route: APIRoute) -> list[tuple[Resource, Action]]:
    """The matrix cells a route's dependencies declare (gateway.api.deps.permit)."""
    found = []
    stack = list(route.dependant.dependencies)
    while stack:
        dependant = stack.pop()
        access = getattr(dependant.call, "access", None)
        if access is not None:
            found.append(access)
        stack.extend(dependant.dependencies)
    return found


def _routes() -> list[APIRoute]:
    """The edge's routes (the app holds its routers as included routers, not as a flat list)."""
    return [r for router in API_ROUTERS for r in router.routes if isinstance(r, APIRoute)]


def _operations() -> list[tuple[str, str, Resource, Action]]:
    """(method, path, resource, action) of every /v1 operation of the OpenAPI."""
    app = _app()
    routes = {(m, r.path): r for r in _routes() for m in r.methods}
    out = []
    for path, operations in app.openapi()["paths"].items():
        if not path.startswith("/v1"):
            continue
        for method in operations:
            [(resource, action)] = _access_of(routes[(method.upper(), path)])
            out.append((method.upper(), path, resource, action))
    return out


def test_every_v1_route_declares_exactly_one_cell_of_the_matrix() -> None:
    app = _app()
    paths = app.openapi()["paths"]
    checked = 0
    for route in _routes():
        if route.path.startswith("/v1") and route.include_in_schema:
            cells = _access_of(route)
            assert len(cells) == 1, f"{sorted(route.methods)} {route.path} declares {cells}: add it to the matrix"
            assert cells[0] in MATRIX
            assert route.path in paths
            checked += 1
    assert checked == len(_operations()) >= 60


OPERATIONS = _operations()


def _url(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: NAMES.get(m.group(1), str(uuid.uuid4())), path)


@pytest.mark.parametrize(("method", "path", "resource", "action"), OPERATIONS, ids=[f"{m} {p}" for m, p, *_ in OPERATIONS])
async def test_every_role_gets_the_matrix_answer(
    client: httpx.AsyncClient, method: str, path: str, resource: Resource, action: Action
) -> None:
    allowed = allowed_roles(resource, action)
    url = _url(path)
    body: dict[str, Any] | None = {} if method in ("POST", "PUT", "PATCH") else None
    for role in KEYS:
        response = await client.request(method, url, json=body, headers=auth(role))
        if role in allowed:
            assert response.status_code not in (401, 403), (role, response.text)
        else:
            problem = assert_problem(response, 403)
            assert not PERSON.search(response.text), problem
    anonymous = await client.request(method, url, json=body)
    assert anonymous.status_code == 401


async def _owned_customer(edge: httpx.AsyncClient, rep_id: str) -> tuple[str, str]:
    """A customer behind a lead assigned to rep_id, told to customer master as the lead service's events tell it."""
    phone = f"+86139{uuid.uuid4().int % 10**8:08d}"
    stub = lead_service_stub(edge)
    created = await stub.ResolveCustomer(
        customer_pb2.ResolveCustomerRequest(company=f"访问{uuid.uuid4().hex[:6]}有限公司", name="李雷", phone=phone),
        timeout=5,
    )
    customer_id = created.customer.id
    # The steward is one of a customer's owners: set by the lead service's own identity (a service, admin rights).
    await stub.UpdateCustomerField(
        customer_pb2.UpdateCustomerFieldRequest(customer_id=customer_id, field="steward_id", value=rep_id), timeout=5
    )
    return customer_id, phone


async def test_owner_and_non_owner_of_a_customer_through_the_edge(customer_edge: httpx.AsyncClient) -> None:  # noqa: F811
    mine, phone = await _owned_customer(customer_edge, ASSIGNEE_ID)
    theirs, their_phone = await _owned_customer(customer_edge, f"rep-{uuid.uuid4().hex[:6]}")
    rep = auth(Role.SALES_REP)
    owned = await customer_edge.get(f"/v1/customers/{mine}", headers=rep)
    assert owned.status_code == 200 and owned.json()["phone"] == phone
    for url in (f"/v1/customers/{theirs}", f"/v1/customers/{theirs}/history", f"/v1/customers/{theirs}/contacts"):
        refused = await customer_edge.get(url, headers=rep)
        assert_problem(refused, 404)
        assert their_phone not in refused.text
    # A sales rep changes only its own customers, and never their steward.
    changed = await customer_edge.put(f"/v1/customers/{mine}/fields/name", json={"value": "韩梅梅", "reason": "met"}, headers=rep)
    assert changed.status_code == 200 and changed.json()["name"] == "韩梅梅"
    for field, value in (("email", "x@example.com"), ("name", "x"), ("steward_id", ASSIGNEE_ID)):
        refused = await customer_edge.put(f"/v1/customers/{theirs}/fields/{field}", json={"value": value, "reason": "r"},
                                          headers=rep)
        assert_problem(refused, 403)
    steward = await customer_edge.put(
        f"/v1/customers/{mine}/fields/steward_id", json={"value": "rep-x", "reason": "r"}, headers=rep
    )
    assert_problem(steward, 403)
    # A match finds the customer for a rep, without its personal data; a viewer sees figures only.
    matched = await customer_edge.post("/v1/customers/match", json={"phone": their_phone}, headers=rep)
    assert matched.status_code == 200 and matched.json()["candidates"]
    assert their_phone not in matched.text
    viewer = await customer_edge.get(f"/v1/customers/{theirs}", headers=auth(Role.VIEWER))
    assert viewer.status_code == 200 and their_phone not in viewer.text
    assert_problem(await customer_edge.post("/v1/contacts/match", json={"phone": their_phone},
                                            headers=auth(Role.VIEWER)), 403)
    director = await customer_edge.get(f"/v1/customers/{theirs}", headers=auth(Role.CUSTOMER_SUCCESS_DIRECTOR))
    assert director.json()["phone"] == their_phone


def test_the_tested_roles_are_every_role_a_key_may_hold() -> None:
    assert set(KEYS) == set(Role) - {Role.SERVICE}
    assert {role for cells in MATRIX.values() for role in cells} == set(KEYS)
