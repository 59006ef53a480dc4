"""A rep leaves: the lead service publishes crm.lead.rep_deactivated and the customer master hands the accounts over."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from crm.customer.v1 import customer_pb2, customer_pb2_grpc
from tests.test_journey import auth, wait_until
from tools.devstack import Stack


@pytest.fixture(scope="module")
def admin(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.info["gateway_url"], timeout=15, headers=auth(stack.api_key)) as client:
        yield client


@pytest.fixture(scope="module")
def customers(stack: Stack) -> Iterator[customer_pb2_grpc.CustomerServiceStub]:
    """The customer master itself: accounts are created the way a capture creates them (ResolveCustomer)."""
    with stack.channel("customer-master") as channel:
        yield customer_pb2_grpc.CustomerServiceStub(channel)


def team(admin: httpx.Client, manager_id: str | None) -> str:
    created = admin.post("/v1/teams", json={"name": f"handover-{uuid.uuid4().hex[:8]}"})
    assert created.status_code == 201, created.text
    if manager_id:
        patched = admin.patch(f"/v1/teams/{created.json()['id']}", json={"manager_id": manager_id})
        assert patched.status_code == 200, patched.text
    return str(created.json()["id"])


def rep(admin: httpx.Client, team_id: str) -> str:
    created = admin.post("/v1/reps", json={"name": f"rep {uuid.uuid4().hex[:6]}", "team_id": team_id})
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def accounts(admin: httpx.Client, customers: customer_pb2_grpc.CustomerServiceStub, steward: str, n: int) -> list[str]:
    ids = []
    for _ in range(n):
        company = f"交接测试{uuid.uuid4().hex[:10]}有限公司"
        created = customers.ResolveCustomer(customer_pb2.ResolveCustomerRequest(company=company), timeout=10)
        put = admin.put(f"/v1/customers/{created.customer.id}/fields/steward_id", json={"value": steward})
        assert put.status_code == 200 and put.json()["steward_id"] == steward, put.text
        ids.append(created.customer.id)
    return ids


def deactivate(admin: httpx.Client, rep_id: str, successor: str | None = None) -> None:
    body = {"successor_rep_id": successor} if successor else {}
    response = admin.post(f"/v1/reps/{rep_id}/deactivate", json=body)
    assert response.status_code == 200, response.text


def customer(admin: httpx.Client, customer_id: str) -> dict[str, Any]:
    body: dict[str, Any] = admin.get(f"/v1/customers/{customer_id}").json()
    return body


def test_accounts_follow_a_departing_rep(admin: httpx.Client, customers: customer_pb2_grpc.CustomerServiceStub) -> None:
    manager = f"manager-{uuid.uuid4().hex[:8]}"
    staffed = team(admin, manager)
    leaving, successor, second = rep(admin, staffed), rep(admin, staffed), rep(admin, staffed)

    handed = accounts(admin, customers, leaving, 2)
    deactivate(admin, leaving, successor)
    for customer_id in handed:
        wait_until(lambda cid=customer_id: customer(admin, cid)["steward_id"] == successor)
    history = admin.get(f"/v1/customers/{handed[0]}/history").json()["changes"]
    move = history[0]
    assert (move["field"], move["old_value"], move["new_value"], move["actor_id"]) == (
        "steward_id",
        leaving,
        successor,
        "crm.lead.rep_deactivated",
    )
    assert "successor" in move["reason"]

    to_manager = accounts(admin, customers, second, 1)
    deactivate(admin, second)
    wait_until(lambda: customer(admin, to_manager[0])["steward_id"] == manager)

    unmanaged = team(admin, None)
    alone = rep(admin, unmanaged)
    before = int(admin.get("/v1/customers/data-health").json()["steward_needed"])
    orphaned = accounts(admin, customers, alone, 2)
    deactivate(admin, alone)
    for customer_id in orphaned:
        wait_until(lambda cid=customer_id: customer(admin, cid)["steward_needed"])
        assert customer(admin, customer_id)["steward_id"] == alone
    after = int(admin.get("/v1/customers/data-health").json()["steward_needed"])
    assert after == before + 2
    flagged = admin.get(f"/v1/customers/{orphaned[0]}/history").json()["changes"][0]
    assert (flagged["field"], flagged["new_value"]) == ("steward_needed", "true")
