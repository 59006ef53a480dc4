"""The whole system as processes: one lead from capture to first contact, and the edge's contract."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tools.devstack import Stack


def wait_until(check: Callable[[], Any], timeout: float = 20.0, interval: float = 0.1) -> Any:
    """Poll until check() returns something truthy; fail with the last value."""
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s; last value: {value!r}")


@pytest.fixture(scope="module")
def api(stack: Stack) -> httpx.Client:
    with httpx.Client(base_url=stack.info["gateway_url"], timeout=15) as client:
        yield client


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def new_lead(api: httpx.Client, stack: Stack, **fields: Any) -> dict[str, Any]:
    body = {
        "name": "王芳",
        "phone": f"+86 139 {uuid.uuid4().int % 10**8:08d}",
        "company": "杭州某某科技有限公司",
        "province": "浙江",
        "source": {"channel": "web_form", "utm_source": "baidu", "utm_campaign": "spring"},
        **fields,
    }
    response = api.post("/v1/leads", json=body, headers=auth(stack.api_key))
    assert response.status_code == 201, response.text
    return response.json()


def timeline_steps(api: httpx.Client, stack: Stack, lead_id: str) -> list[str]:
    lead = api.get(f"/v1/leads/{lead_id}", headers=auth(stack.api_key)).json()
    return [entry["step"] for entry in lead["timeline"]]


def test_a_lead_travels_from_capture_to_first_contact(api: httpx.Client, stack: Stack) -> None:
    created = new_lead(api, stack)
    rep_ids = {rep["id"] for rep in stack.info["reps"]}
    assert created["status"] == "assigned"
    assert created["assignee_id"] in rep_ids
    assert created["customer_id"]
    assert len(created["trace_id"]) == 32
    lead_id, rep_key = created["id"], stack.rep_keys[created["assignee_id"]]

    wait_until(lambda: "notified" in timeline_steps(api, stack, lead_id))
    claimed = api.post(f"/v1/leads/{lead_id}/claim", headers=auth(rep_key))
    assert claimed.status_code == 200, claimed.text
    assert claimed.json()["status"] == "claimed"
    contact = api.post(
        f"/v1/leads/{lead_id}/contacts", json={"channel": "phone", "summary": "首次电话沟通"}, headers=auth(rep_key)
    )
    assert contact.status_code == 201, contact.text
    assert contact.json()["first_contact"] is True

    lead = api.get(f"/v1/leads/{lead_id}", headers=auth(stack.api_key)).json()
    assert lead["status"] == "contacted"
    assert lead["phone"].startswith("+86139")
    assert lead["first_contact_at"]
    assert [e["step"] for e in lead["timeline"]] == [
        "captured",
        "customer_resolved",
        "assigned",
        "notified",
        "claimed",
        "contacted",
    ]
    opportunities = wait_until(
        lambda: api.get(f"/v1/leads/{lead_id}/opportunities", headers=auth(stack.api_key)).json()
    )
    assert opportunities[0]["stage"] == "qualification"
    assert opportunities[0]["owner_id"] == created["assignee_id"]
    notifications = api.get(f"/v1/leads/{lead_id}/notifications", headers=auth(stack.api_key)).json()
    assert [n["status"] for n in notifications] == ["delivered"]

    def reported() -> dict[str, Any] | None:
        report = api.get("/v1/reports/lead-response", headers=auth(stack.api_key)).json()
        return report if report["time_to_first_contact"]["count"] >= 1 else None

    report = wait_until(reported)
    assert report["leads_captured"] >= 1
    assert report["time_to_assignment"]["count"] >= 1
    assert report["time_to_first_contact"]["p50_seconds"] > 0
    metrics = httpx.get(stack.info["services"]["lead"]["metrics"]).text
    assert "crm_lead_time_to_first_contact_seconds_count 1.0" in metrics


def test_every_span_of_a_lead_shares_one_trace(api: httpx.Client, stack: Stack, otlp_receiver) -> None:
    created = new_lead(api, stack)
    lead_id, trace_id = created["id"], created["trace_id"]
    rep_key = stack.rep_keys[created["assignee_id"]]
    wait_until(lambda: "notified" in timeline_steps(api, stack, lead_id))
    assert api.post(f"/v1/leads/{lead_id}/claim", headers=auth(rep_key)).status_code == 200
    assert (
        api.post(f"/v1/leads/{lead_id}/contacts", json={"channel": "wecom"}, headers=auth(rep_key)).status_code == 201
    )

    expected_services = {"gateway", "lead", "customer-master", "notification", "pipeline", "reporting"}

    expected_routes = {"/v1/leads", "/v1/leads/{lead_id}/claim", "/v1/leads/{lead_id}/contacts"}

    def complete() -> list[Any] | None:
        spans = otlp_receiver.trace(trace_id)
        names = {s.name for s in spans}
        services = {s.service for s in spans}
        routes = {s.attributes.get("http.route") for s in spans if s.kind == "SERVER" and s.service == "gateway"}
        wanted = {"process crm.lead.assigned", "process crm.lead.contacted", "process crm.notification.delivered"}
        ids = {s.span_id for s in spans}
        parents_in = all(s.parent_span_id in ids for s in spans if s.kind == "CONSUMER")
        done = expected_services <= services and wanted <= names and expected_routes <= routes and parents_in
        return spans if done else None

    # Asserted by waiting: the edge's spans of all three requests, and every service, arrive in this trace.
    spans = wait_until(complete, timeout=30)
    # The consumer of each event is a child of the span that published it: one connected trace.
    by_id = {s.span_id: s for s in spans}
    for consumer in (s for s in spans if s.kind == "CONSUMER"):
        assert by_id[consumer.parent_span_id].kind == "PRODUCER"
    roots = [s for s in spans if not s.parent_span_id]
    assert len(roots) == 1 and roots[0].service == "gateway"


def test_webhook_form_becomes_a_lead(api: httpx.Client, stack: Stack) -> None:
    form = {"姓名": "李强", "手机": "13700001111", "公司": "成都某某贸易", "utm_campaign": "expo"}
    receipt = api.post(
        "/v1/webhooks/landing-page", json=form, headers={**auth(stack.role_keys["system"]), "Idempotency-Key": "f-1"}
    )
    assert receipt.status_code == 201, receipt.text
    body = receipt.json()
    assert body["status"] == "captured"
    lead = api.get(f"/v1/leads/{body['lead_id']}", headers=auth(stack.api_key)).json()
    assert lead["name"] == "李强" and lead["phone"] == "+8613700001111"
    assert lead["source"]["utm_source"] == "landing-page"
    again = api.post(
        "/v1/webhooks/landing-page", json=form, headers={**auth(stack.role_keys["system"]), "Idempotency-Key": "f-1"}
    )
    assert again.status_code == 200 and again.json()["lead_id"] == body["lead_id"]


def test_the_edge_refuses_bad_requests_clearly(api: httpx.Client, stack: Stack) -> None:
    assert api.post("/v1/leads", json={"phone": "13800000000"}).status_code == 401
    assert api.post("/v1/leads", json={}, headers=auth("wrong")).status_code == 401
    viewer = api.post("/v1/leads", json={"phone": "13800000000"}, headers=auth(stack.role_keys["viewer"]))
    assert viewer.status_code == 403

    missing = api.post("/v1/leads", json={"name": "x"}, headers=auth(stack.api_key))
    assert missing.status_code == 422
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert {e["field"] for e in missing.json()["errors"]} == {"phone", "email"}
    bad_phone = api.post("/v1/leads", json={"phone": "12345"}, headers=auth(stack.api_key))
    assert bad_phone.status_code == 422
    assert [e["field"] for e in bad_phone.json()["errors"]] == ["phone"]
    huge = api.post(
        "/v1/leads",
        content=b'{"notes": "' + b"x" * (1024 * 1024 + 10) + b'"}',
        headers={**auth(stack.api_key), "Content-Type": "application/json"},
    )
    assert huge.status_code == 413
    assert api.get(f"/v1/leads/{uuid.uuid4()}", headers=auth(stack.api_key)).status_code == 404


def test_customer_tier_is_kept_with_the_lead(api: httpx.Client, stack: Stack) -> None:
    created = new_lead(api, stack, customer_tier="strategic")
    assert created["customer_tier"] == "strategic"
    lead = api.get(f"/v1/leads/{created['id']}", headers=auth(stack.api_key)).json()
    assert lead["customer_tier"] == "strategic"


def test_idempotency_key_returns_the_first_result(api: httpx.Client, stack: Stack) -> None:
    headers = {**auth(stack.api_key), "Idempotency-Key": f"form-{uuid.uuid4()}"}
    body = {"name": "Zhang Wei", "email": "zhang.wei@example.com", "source": {"channel": "whitepaper"}}
    first = api.post("/v1/leads", json=body, headers=headers)
    second = api.post("/v1/leads", json=body, headers=headers)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
