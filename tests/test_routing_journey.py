"""Routing across processes: explanations and quarantine through the edge, the agreed metrics from the lead process."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest

from tests.test_journey import auth, wait_until
from tools.devstack import Stack


@pytest.fixture(scope="module")
def api(stack: Stack) -> httpx.Client:
    with httpx.Client(base_url=stack.info["gateway_url"], timeout=15) as client:
        yield client


def _metric(text: str, name: str, **labels: str) -> float | None:
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = re.escape(name) + (r"\{" + re.escape(wanted) + r"\}" if wanted else "") + r" ([0-9.e+-]+)$"
    found = re.search(pattern, text, re.MULTILINE)
    return float(found.group(1)) if found else None


def test_a_captured_lead_explains_its_routing_and_shows_in_the_waiting_gauges(api: httpx.Client, stack: Stack) -> None:
    phone = f"+86 139 {uuid.uuid4().int % 10**8:08d}"
    captured = api.post("/v1/leads", json={"name": "周敏", "phone": phone}, headers=auth(stack.api_key))
    assert captured.status_code == 201, captured.text
    lead = captured.json()
    why = api.get(f"/v1/leads/{lead['id']}/routing", headers=auth(stack.api_key)).json()
    decision = why["decisions"][0]
    assert decision["trigger"] == "capture" and decision["chosen_rep_id"] == lead["assignee_id"]
    assert decision["rule_id"] == stack.info["routing_rule_id"] and decision["strategy"] == "round_robin"
    assert set(decision["eligible_rep_ids"]) == {r["id"] for r in stack.info["reps"]}
    assert why["location_inferred"] and why["score"] == round(sum(why["score_parts"].values()))
    repeat = api.post("/v1/leads", json={"name": "周敏", "phone": phone}, headers=auth(stack.api_key))
    assert repeat.status_code == 200 and repeat.json()["id"] == lead["id"]  # a touch, not a second lead

    metrics_url = stack.info["services"]["lead"]["metrics"]

    def unclaimed() -> str | None:
        text = httpx.get(metrics_url, timeout=5).text
        waiting = _metric(text, "crm_leads_waiting", state="unclaimed")
        return text if waiting and waiting >= 1 else None

    text = wait_until(unclaimed, timeout=30)
    assert (_metric(text, "crm_lead_oldest_waiting_seconds", state="unclaimed") or 0) > 0
    assert _metric(text, "crm_leads_waiting", state="unassigned") is not None
    assert _metric(text, "crm_lead_reroutes_total", reason="claim_expired") == 0
    assert _metric(text, "crm_lead_sla_breaches_total", kind="first_contact") == 0
    assert _metric(text, "crm_lead_pool_returns_total") == 0


def test_a_quarantined_submission_is_kept_and_released_into_the_journey(api: httpx.Client, stack: Stack) -> None:
    body = {"name": "测试", "phone": f"+86 137 {uuid.uuid4().int % 10**8:08d}"}
    held = api.post("/v1/leads", json=body, headers=auth(stack.api_key))
    assert held.status_code == 202, held.text
    released = api.post(f"/v1/quarantine/{held.json()['quarantine_id']}/release", headers=auth(stack.api_key))
    assert released.status_code == 200, released.text
    lead_id = released.json()["id"]

    def notified() -> list[str] | None:
        steps = [e["step"] for e in api.get(f"/v1/leads/{lead_id}", headers=auth(stack.api_key)).json()["timeline"]]
        return steps if "notified" in steps else None

    steps = wait_until(notified, timeout=30)
    assert {"captured", "customer_resolved", "assigned", "released"} <= set(steps)
