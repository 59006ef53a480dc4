"""Issue 13's access reproductions against the whole stack (`make dev`'s processes and keys): each one now refused."""

from __future__ import annotations

import uuid
from typing import Any

import grpc
import httpx
import pytest

from crm.customer.v1 import customer_pb2, customer_pb2_grpc
from crm_common.identity import Principal, Role
from tools.devstack import Stack

from .test_journey import auth, wait_until


@pytest.fixture(scope="module")
def api(stack: Stack) -> httpx.Client:
    with httpx.Client(base_url=stack.info["gateway_url"], timeout=15) as client:
        yield client


def _lead(api: httpx.Client, stack: Stack) -> tuple[dict[str, Any], str, str]:
    """A lead with a phone, an e-mail and notes, captured by the admin key, and its phone and e-mail."""
    national = f"139{uuid.uuid4().int % 10**8:08d}"
    email = f"w{uuid.uuid4().hex[:8]}@example.com"
    body = {
        "name": "王芳",
        "phone": national,
        "email": email,
        "company": f"杭州{uuid.uuid4().hex[:6]}科技有限公司",
        "notes": "private note: call after 6pm",
        "source": {"channel": "web_form"},
    }
    response = api.post("/v1/leads", json=body, headers=auth(stack.api_key))
    assert response.status_code == 201, response.text
    lead = response.json()
    assert lead["assignee_id"], lead
    return lead, f"+86{national}", email


def _personal(text: str, phone: str, email: str) -> bool:
    return phone in text or email in text or "private note" in text


def test_leads_contacts_and_notifications_by_role(api: httpx.Client, stack: Stack) -> None:
    lead, phone, email = _lead(api, stack)
    owner = lead["assignee_id"]
    other = next(rep["id"] for rep in stack.info["reps"] if rep["id"] != owner)
    url = f"/v1/leads/{lead['id']}"
    # A viewer reads the lead's figures, not its phone, e-mail or notes.
    viewer = api.get(url, headers=auth(stack.role_keys["viewer"]))
    assert viewer.status_code == 200 and not _personal(viewer.text, phone, email)
    # Rep B does not read rep A's lead; rep A and the team's manager do.
    refused = api.get(url, headers=auth(stack.rep_keys[other]))
    assert refused.status_code == 404 and not _personal(refused.text, phone, email)
    assert api.get(url, headers=auth(stack.rep_keys[owner])).json()["phone"] == phone
    assert api.get(url, headers=auth(stack.role_keys["manager"])).json()["phone"] == phone
    # Notifications of the lead: a viewer sees no text naming the lead, rep B none of rep A's.
    notes = wait_until(lambda: api.get(f"{url}/notifications", headers=auth(stack.api_key)).json())
    assert notes
    seen = api.get(f"{url}/notifications", headers=auth(stack.role_keys["viewer"]))
    assert seen.status_code == 200 and "王芳" not in seen.text and not _personal(seen.text, phone, email)
    assert api.get(f"{url}/notifications", headers=auth(stack.rep_keys[other])).json() == []
    # Nobody without the grant finds a contact by phone.
    matched = api.post("/v1/contacts/match", json={"phone": phone}, headers=auth(stack.role_keys["viewer"]))
    assert matched.status_code == 403 and not _personal(matched.text, phone, email)


def test_customers_by_owner_and_non_owner(api: httpx.Client, stack: Stack) -> None:
    lead, phone, email = _lead(api, stack)
    owner = lead["assignee_id"]
    other = next(rep["id"] for rep in stack.info["reps"] if rep["id"] != owner)
    customer_id = wait_until(lambda: api.get(f"/v1/leads/{lead['id']}", headers=auth(stack.api_key)).json()["customer_id"])
    url = f"/v1/customers/{customer_id}"
    # Rep A learns the customer behind its lead from the lead's events; rep B never does.
    mine = wait_until(lambda: (r := api.get(url, headers=auth(stack.rep_keys[owner]))).status_code == 200 and r.json())
    assert mine["phone"] == phone
    theirs = api.get(url, headers=auth(stack.rep_keys[other]))
    assert theirs.status_code == 404 and not _personal(theirs.text, phone, email)
    # A rep's match finds records without their personal data.
    matched = api.post("/v1/customers/match", json={"phone": phone}, headers=auth(stack.rep_keys[other]))
    assert matched.status_code == 200 and not _personal(matched.text, phone, email)
    # Rep B changes none of the customer's fields, its steward included.
    for field, value in (("email", "x@example.com"), ("name", "冒名"), ("steward_id", other)):
        changed = api.put(f"{url}/fields/{field}", json={"value": value, "reason": "r"}, headers=auth(stack.rep_keys[other]))
        assert changed.status_code == 403, (field, changed.text)
    # gRPC believes the token, not the body: rep A naming itself a customer success director changes no golden field.
    rep = Principal(subject=f"key:{owner}", role=Role.SALES_REP, rep_id=owner)
    with stack.channel("customer-master", rep) as channel:
        stub = customer_pb2_grpc.CustomerServiceStub(channel)
        request = customer_pb2.UpdateCustomerFieldRequest(
            customer_id=customer_id, field="company", value="别家有限公司", actor_id="csd-1",
            actor_role="customer_success_director", reason="I say so",
        )
        with pytest.raises(grpc.RpcError) as caught:
            stub.UpdateCustomerField(request, timeout=5)
        assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert api.get(url, headers=auth(stack.api_key)).json()["company"] != "别家有限公司"
