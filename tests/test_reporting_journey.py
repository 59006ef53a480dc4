"""Reports through the whole stack: real captures, claims, contacts and stage moves reach the projections."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.test_journey import auth, new_lead, wait_until
from tools.devstack import Stack

PIPELINE = {
    "name": "Reporting journey",
    "stages": [
        {"key": "qualification", "name": "Qualification", "probability": 0.2,
         "actions": [{"key": "talk", "name": "Talk", "evidence": {"kind": "contact", "min": 1}}]},
        {"key": "proposal", "name": "Proposal", "probability": 0.5},
        {"key": "won", "name": "Won", "probability": 1, "outcome": "won"},
        {"key": "lost", "name": "Lost", "probability": 0, "outcome": "lost"},
    ],
}


@pytest.fixture(scope="module")
def api(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.info["gateway_url"], timeout=15) as client:
        yield client


def _funnel(api: httpx.Client, headers: dict[str, str]) -> dict[str, Any]:
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()
    got = api.get("/v1/reports/funnel", params={"from": today, "to": today}, headers=headers)
    assert got.status_code == 200, got.text
    rows = got.json()["rows"]
    return rows[0] if rows else {"leads": 0, "opportunities": 0, "stages": {}}


def test_a_lead_and_its_deal_show_in_the_reports(api: httpx.Client, stack: Stack) -> None:
    key = f"report-{uuid.uuid4().hex[:6]}"
    assert api.put(f"/v1/pipelines/{key}", json=PIPELINE, headers=auth(stack.api_key)).status_code == 200
    lead = new_lead(api, stack)
    rep_id = lead["assignee_id"]
    rep = auth(stack.rep_keys[rep_id])
    # The lead's capture reaches the rep's own funnel (a rep's reports hold only their rows).
    before = wait_until(lambda: (row := _funnel(api, rep))["leads"] >= 1 and row)
    assert api.post(f"/v1/leads/{lead['id']}/claim", headers=rep).status_code == 200
    assert api.post(f"/v1/leads/{lead['id']}/contacts", json={"channel": "phone"}, headers=rep).status_code == 201
    # A first contact opens the lead's opportunity (the pipeline service's own rule): the funnel counts it.
    after = wait_until(lambda: (row := _funnel(api, rep))["opportunities"] > before["opportunities"] and row,
                       timeout=30)
    assert after["leads"] >= before["leads"]
    # A deal on a pipeline of its own, moved once after its required talk.
    deal = api.post("/v1/opportunities", json={
        "customer_id": lead["customer_id"], "name": "Deal", "amount": 5000, "currency": "CNY",
        "owner_id": rep_id, "pipeline": key, "expected_close_date": "2036-02-10"}, headers=rep)
    assert deal.status_code == 201, deal.text
    url = f"/v1/opportunities/{deal.json()['id']}"
    assert api.post(f"{url}/contacts", json={"channel": "phone"}, headers=rep).status_code == 201
    assert api.post(f"{url}/stage", json={"to": "proposal"}, headers=rep).status_code == 200
    # The talk was done before the deal left qualification: the heatmap cell has it, nothing missing.
    admin = auth(stack.api_key)
    def cells() -> list[dict[str, Any]] | None:
        got = api.get("/v1/reports/stage-actions", params={"pipeline": key}, headers=admin).json()["cells"]
        return got if got and got[0]["opportunities"] else None

    cells = wait_until(cells, timeout=30)
    assert cells == [{"stage": "qualification", "action": "talk", "opportunities": 1, "missing": 0,
                      "missing_rate": 0.0}]
    health = api.get("/v1/reports/assignment-health", headers=rep).json()
    assert health["captured"] >= 1 and health["assigned"] >= 1 and health["double_assignments"] == 0
    # Exports: never to a rep; an admin's is watermarked with its key's name and audited.
    assert api.get("/v1/reports/funnel/export", headers=rep).status_code == 403
    exported = api.get(f"/v1/reports/stage-actions/export?pipeline={key}", headers=admin | {"X-Request-ID": key})
    assert exported.status_code == 200 and exported.text.startswith("# exported by ")
    rows = list(csv.DictReader(io.StringIO(exported.text.split("\n", 1)[1])))
    assert rows == [{"stage": "qualification", "action": "talk", "opportunities": "1", "missing": "0",
                     "missing_rate": "0.0"}]
    audit = api.get("/v1/audit/exports", headers=admin).json()["exports"]
    assert audit[0]["request_id"] == key and audit[0]["rows"] == 1
