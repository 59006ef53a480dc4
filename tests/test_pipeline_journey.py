"""A deal through the whole stack: gates, approvals, four eyes, a stall told, a handover, the forecast."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.test_journey import auth, wait_until
from tools.devstack import Stack
from tools.devstack.seed import MANAGER_ID

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def _pipeline(stall_after: str = "PT72H") -> dict[str, Any]:
    return {
        "name": "Journey",
        "stages": [
            {"key": "qualification", "name": "Qualification", "probability": 0.2, "stall_after": stall_after,
             "actions": [{"key": "talk", "name": "Talk", "evidence": {"kind": "contact", "min": 1}}]},
            {"key": "proposal", "name": "Proposal", "probability": 0.5,
             "actions": [{"key": "quote", "name": "Quote", "evidence": {"kind": "file", "media_types": ["application/pdf"]}}]},
            {"key": "negotiation", "name": "Negotiation", "probability": 0.8},
            {"key": "won", "name": "Won", "probability": 1, "outcome": "won"},
            {"key": "lost", "name": "Lost", "probability": 0, "outcome": "lost"},
        ],
    }


@pytest.fixture(scope="module")
def api(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.info["gateway_url"], timeout=15) as client:
        yield client


def _put(api: httpx.Client, stack: Stack, body: dict[str, Any]) -> str:
    key = f"journey-{uuid.uuid4().hex[:6]}"
    put = api.put(f"/v1/pipelines/{key}", json=body, headers=auth(stack.api_key))
    assert put.status_code == 200, put.text
    return key


def _open(api: httpx.Client, stack: Stack, key: str, owner: str, headers: dict[str, str]) -> dict[str, Any]:
    created = api.post(
        "/v1/opportunities",
        json={"customer_id": f"c-{uuid.uuid4().hex[:6]}", "name": "Deal", "amount": 5000, "currency": "CNY",
              "owner_id": owner, "pipeline": key, "expected_close_date": "2036-02-10"},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    return created.json()


def test_a_deal_through_gates_approvals_and_four_eyes(api: httpx.Client, stack: Stack) -> None:
    key = _put(api, stack, _pipeline())
    rep = stack.info["reps"][0]
    rep_headers = auth(stack.rep_keys[rep["id"]])
    deal = _open(api, stack, key, rep["id"], rep_headers)
    assert deal["team_id"] == stack.info["team"]["id"]  # the owner's team, from the lead service
    url = f"/v1/opportunities/{deal['id']}"
    refused = api.post(f"{url}/stage", json={"to": "proposal"}, headers=rep_headers)
    assert refused.status_code == 409 and refused.json()["missing"][0]["action"] == "talk"
    other = stack.info["reps"][1]
    assert api.get(url, headers=auth(stack.rep_keys[other["id"]])).status_code == 404
    assert api.post(f"{url}/contacts", json={"channel": "phone"}, headers=rep_headers).status_code == 201
    assert api.post(f"{url}/stage", json={"to": "proposal"}, headers=rep_headers).json()["stage"] == "proposal"

    skip = api.post(f"{url}/stage", json={"to": "won", "reason": "signed"}, headers=rep_headers)
    assert skip.status_code == 409  # the quote is missing: no approval is even asked for
    stored = api.post(f"{url}/files", files={"file": ("q", PDF)}, data={"action": "quote"}, headers=rep_headers)
    assert stored.status_code == 201 and stored.json()["media_type"] == "application/pdf"
    asked = api.post(f"{url}/stage", json={"to": "won", "reason": "signed"}, headers=rep_headers)
    assert asked.status_code == 202, asked.text
    manager = auth(stack.role_keys["manager"])
    approval_id = asked.json()["approval_id"]
    assert approval_id in [a["id"] for a in api.get("/v1/approvals?status=pending", headers=manager).json()["approvals"]]
    approved = api.post(f"/v1/approvals/{approval_id}/approve", headers=manager)
    assert approved.status_code == 200 and approved.json()["opportunity"]["status"] == "won"

    reopen = api.post(f"{url}/override", json={"to": "negotiation", "reason": "customer withdrew"}, headers=auth(stack.api_key))
    assert reopen.status_code == 202
    oid = reopen.json()["approval_id"]
    assert api.post(f"/v1/approvals/{oid}/approve", headers=auth(stack.api_key)).status_code == 403
    done = api.post(f"/v1/approvals/{oid}/approve", headers=auth(stack.role_keys["admin_2"]))
    assert done.status_code == 200 and done.json()["opportunity"]["stage"] == "negotiation"
    history = api.get(url, headers=rep_headers).json()["history"]
    assert [(h["stage"], h["override"]) for h in history] == [
        ("qualification", False), ("proposal", False), ("won", False), ("negotiation", True),
    ]
    forecast = api.get("/v1/forecast?group_by=team&month=2036-02", headers=manager).json()
    team = next(r for r in forecast["rows"] if r["group"] == {"team_id": stack.info["team"]["id"]})
    assert team["count"] >= 1 and team["weighted_amount"] >= 4000.0  # 5000 x 0.8 in negotiation


def test_a_short_stall_is_raised_and_told(api: httpx.Client, stack: Stack) -> None:
    key = _put(api, stack, _pipeline(stall_after="PT1S"))
    rep = stack.info["reps"][2]
    deal = _open(api, stack, key, rep["id"], auth(stack.rep_keys[rep["id"]]))
    url = f"/v1/opportunities/{deal['id']}"

    def told() -> list[dict[str, Any]]:
        notices = api.get(f"{url}/notifications", headers=auth(stack.api_key)).json()["notifications"]
        return [n for n in notices if n["kind"] == "stalled"]

    recipients = {n["recipient_id"] for n in wait_until(told)}
    assert recipients == {rep["id"], MANAGER_ID}
    assert api.get(url, headers=auth(stack.api_key)).json()["stalled"] is True


def test_a_deactivated_reps_deals_go_to_the_team_manager(api: httpx.Client, stack: Stack) -> None:
    admin = auth(stack.api_key)
    created = api.post("/v1/reps", json={"name": f"leaver {uuid.uuid4().hex[:6]}", "team_id": stack.info["team"]["id"]}, headers=admin)
    assert created.status_code == 201, created.text
    leaver = created.json()["id"]
    key = _put(api, stack, _pipeline())
    deal = _open(api, stack, key, leaver, admin)
    assert api.post(f"/v1/reps/{leaver}/deactivate", json={}, headers=admin).status_code == 200

    def handed() -> bool:
        return api.get(f"/v1/opportunities/{deal['id']}", headers=admin).json()["owner_id"] == MANAGER_ID

    assert wait_until(handed)
