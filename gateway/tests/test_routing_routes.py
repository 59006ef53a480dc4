"""Routing through the edge against the real lead service (real PostgreSQL and NATS): rules, explain, pool, quarantine."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from crm.lead.v1 import lead_pb2_grpc
from crm_common.grpc_server import GrpcServer
from crm_common.settings import PeerAddresses
from gateway.core.config import Role
from gateway.main import create_app
from gateway.tests.support import ADDRESS_FIELDS, assert_problem, auth, settings_for
from lead.app import DEFINITION
from lead.handlers import LeadServicer
from lead.ownership.clocks import run_clocks_once
from services.conftest import pg_server_url, service_runtime, workdir  # noqa: F401  (real infrastructure fixtures)

os.environ.setdefault("CRM_CUSTOMER_MASTER_ADDR", "127.0.0.1:1")
ADMIN = auth(Role.ADMIN)


@pytest.fixture
async def lead_service(service_runtime):  # noqa: F811
    async with service_runtime(DEFINITION, resolve_timeout_seconds=0.5) as runtime:
        runtime.peers = PeerAddresses(customer_master_addr="127.0.0.1:1")
        server = GrpcServer(port=0, service_names=["crm.lead.v1.LeadService"])
        lead_pb2_grpc.add_LeadServiceServicer_to_server(LeadServicer(runtime), server.server)
        await server.start()
        await server.serving(True)
        try:
            yield runtime, f"127.0.0.1:{server.port}"
        finally:
            await server.stop(0)


@pytest.fixture
async def api(lead_service) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings_for(dict.fromkeys(ADDRESS_FIELDS, lead_service[1])))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://edge") as client:
            yield client


async def _team(api: httpx.AsyncClient, name: str, reps: int) -> tuple[str, list[str]]:
    team = (await api.post("/v1/teams", json={"name": name}, headers=ADMIN)).json()["id"]
    ids = []
    for i in range(reps):
        response = await api.post("/v1/reps", json={"name": f"{name}{i}", "team_id": team}, headers=ADMIN)
        ids.append(response.json()["id"])
    return team, ids


async def test_rules_are_validated_published_and_explained(api: httpx.AsyncClient) -> None:
    east, east_reps = await _team(api, "East", 2)
    west, west_reps = await _team(api, "West", 1)
    calendar = {"timezone": "Asia/Shanghai", "workdays": [1, 2, 3, 4, 5, 6, 7], "start": "00:00", "end": "23:59"}
    await api.patch(f"/v1/teams/{west}", json={"calendar": calendar, "territories": ["四川"]}, headers=ADMIN)
    team = (await api.patch(f"/v1/teams/{west}", json={"manager_id": "mgr-2"}, headers=ADMIN)).json()
    assert (team["manager_id"], team["territories"], team["calendar"]["workdays"]) == (
        "mgr-2",
        ["四川"],
        calendar["workdays"],
    )
    team = (await api.patch(f"/v1/teams/{west}", json={"calendar": None}, headers=ADMIN)).json()
    assert team["calendar"] is None and team["manager_id"] == "mgr-2"
    bad = await api.patch(f"/v1/teams/{west}", json={"calendar": {"timezone": "Mars/Base"}}, headers=ADMIN)
    assert_problem(bad, 422, "calendar")
    await api.patch(f"/v1/teams/{east}", json={"manager_id": "mgr-1"}, headers=ADMIN)
    patched = await api.patch(f"/v1/reps/{east_reps[1]}", json={"on_leave": True, "skills": ["erp"]}, headers=ADMIN)
    assert patched.status_code == 200 and patched.json()["on_leave"] and patched.json()["skills"] == ["erp"]
    draft = [
        {"name": "sichuan", "priority": 10, "conditions": {"province": ["四川"]}, "team_id": west},
        {
            "name": "sichuan-web",
            "priority": 10,
            "conditions": {"province": ["四川"], "channel": ["web_form"]},
            "team_id": west,
        },
        {"name": "rest", "priority": 100, "team_id": east, "strategy": "least_open"},
    ]
    checked = (await api.post("/v1/routing/rules/validate", json={"rules": draft}, headers=auth(Role.MANAGER))).json()
    assert not checked["publishable"]
    assert [(p["rule"], p["kind"]) for p in checked["problems"]] == [("sichuan-web", "overlap")]
    refused = await api.put("/v1/routing/rules", json={"rules": draft}, headers=ADMIN)
    body = assert_problem(refused, 422)
    assert "overlap" in body["errors"][0]["message"] or "overlap" in str(body["errors"])
    forbidden = await api.put("/v1/routing/rules", json={"rules": draft}, headers=auth(Role.MANAGER))
    assert forbidden.status_code == 403
    published = await api.put("/v1/routing/rules", json={"rules": [draft[0], draft[2]]}, headers=ADMIN)
    assert published.status_code == 200, published.text
    assert published.json()["version"] == 1
    live = (await api.get("/v1/routing/rules", headers=ADMIN)).json()
    assert [r["name"] for r in live["rules"]] == ["sichuan", "rest"] and live["rules"][1]["strategy"] == "least_open"

    lead = (
        await api.post(
            "/v1/leads",
            json={"name": "王芳", "phone": "+86 138 1234 5678", "source": {"channel": "web_form"}},
            headers=ADMIN,
        )
    ).json()
    assert lead["assignee_id"] == east_reps[0]
    why = (await api.get(f"/v1/leads/{lead['id']}/routing", headers=ADMIN)).json()
    assert why["location_inferred"] and why["score_parts"]["channel"] == 36.0
    decision = why["decisions"][0]
    assert (decision["rule_name"], decision["strategy"], decision["chosen_rep_id"]) == (
        "rest",
        "least_open",
        east_reps[0],
    )
    assert decision["ineligible"] == [{"rep_id": east_reps[1], "reason": "on leave"}]
    assert why["claim_deadline_at"] is not None

    dry = await api.post(
        "/v1/routing/dry-run",
        json={"rules": [{"name": "all-west", "priority": 1, "team_id": west}], "days": 1},
        headers=ADMIN,
    )
    assert dry.status_code == 200, dry.text
    assert dry.json()["load_per_rep"] == {west_reps[0]: 1}
    moved = await api.post(f"/v1/leads/{lead['id']}/reassign", json={"rep_id": west_reps[0]}, headers=ADMIN)
    assert moved.json()["assignee_id"] == west_reps[0] and moved.json()["timeline"][-2]["step"] == "reassigned"


async def test_quarantine_answers_202_and_an_operator_releases_it(api: httpx.AsyncClient) -> None:
    east, _ = await _team(api, "East", 1)
    await api.put("/v1/routing/rules", json={"rules": [{"name": "all", "priority": 1, "team_id": east}]}, headers=ADMIN)
    held = await api.post("/v1/leads", json={"name": "王芳", "email": "x@mailinator.com"}, headers=ADMIN)
    assert held.status_code == 202, held.text
    assert held.json()["quarantined"] and "mailinator.com" in held.json()["reasons"][0]
    bad = await api.post("/v1/leads", json={"name": "王芳", "phone": "12345"}, headers=ADMIN)
    assert_problem(bad, 422, "phone")  # a syntax error is refused, not quarantined
    listed = (await api.get("/v1/quarantine", headers=ADMIN)).json()
    assert [q["id"] for q in listed] == [held.json()["quarantine_id"]] and listed[0]["submitted"]["name"] == "王芳"
    released = await api.post(f"/v1/quarantine/{listed[0]['id']}/release", headers=ADMIN)
    assert released.status_code == 200 and released.json()["status"] == "assigned"
    assert (await api.get("/v1/quarantine", headers=ADMIN)).json() == []


async def test_pool_is_masked_and_claimable_and_deactivation_moves_leads(api: httpx.AsyncClient, lead_service) -> None:
    runtime, _ = lead_service
    east, reps = await _team(api, "East", 2)
    rules = [{"name": "all", "priority": 1, "team_id": east}]
    await api.put("/v1/routing/rules", json={"rules": rules}, headers=ADMIN)
    lead = (await api.post("/v1/leads", json={"name": "王芳", "phone": "13812345678"}, headers=ADMIN)).json()
    await api.post(f"/v1/leads/{lead['id']}/claim", json={"rep_id": lead["assignee_id"]}, headers=ADMIN)
    await run_clocks_once(runtime, now=datetime.now(UTC) + timedelta(days=8))
    pool = (await api.get("/v1/pool", headers=auth(Role.SALES_REP))).json()
    assert [(p["id"], p["masked_phone"]) for p in pool] == [(lead["id"], "+86138****5678")]
    other = next(r for r in reps if r != lead["assignee_id"])
    taken = await api.post(f"/v1/pool/{lead['id']}/claim", json={"rep_id": other}, headers=ADMIN)
    assert taken.status_code == 200 and taken.json()["status"] == "claimed"
    again = await api.post(f"/v1/pool/{lead['id']}/claim", json={"rep_id": lead["assignee_id"]}, headers=ADMIN)
    assert_problem(again, 409)  # not in the pool any more
    unknown = await api.post(f"/v1/pool/{lead['id']}/claim", headers=auth(Role.SALES_REP))
    assert_problem(unknown, 422, "rep_id")  # the key's rep is no rep of this service
    gone = await api.post(f"/v1/reps/{other}/deactivate", headers=ADMIN)
    assert gone.status_code == 200 and gone.json()["moved_leads"] == 1 and gone.json()["active"] is False
    moved = (await api.get(f"/v1/leads/{lead['id']}", headers=ADMIN)).json()
    # The only other rep lost this lead to the pool and is cooling down on it: the lead goes back to the pool.
    assert moved["assignee_id"] is None and moved["status"] == "pool"
    reps_now = {r["id"]: r for r in (await api.get("/v1/reps", headers=ADMIN)).json()}
    assert reps_now[lead["assignee_id"]]["open_leads"] == 0
    explained = (await api.get(f"/v1/leads/{lead['id']}/routing", headers=ADMIN)).json()
    reasons = {i["rep_id"]: i["reason"] for i in explained["decisions"][-1]["ineligible"]}
    assert reasons[lead["assignee_id"]].startswith("cooling down")


async def test_a_pooled_lead_read_by_id_has_its_contact_details_masked(api: httpx.AsyncClient) -> None:
    admin = auth(Role.ADMIN)
    team = (await api.post("/v1/teams", json={"name": "East"}, headers=admin)).json()["id"]
    rep = (await api.post("/v1/reps", json={"name": "Wang", "team_id": team}, headers=admin)).json()["id"]
    rules = {"rules": [{"name": "cold", "priority": 1, "to_pool": True}]}
    assert (await api.put("/v1/routing/rules", json=rules, headers=admin)).status_code == 200
    body = {"name": "王芳", "phone": "13812345678", "email": "wang.fang@example.com"}
    lead = (await api.post("/v1/leads", json=body, headers=admin)).json()
    read = (await api.get(f"/v1/leads/{lead['id']}", headers=auth(Role.SALES_REP))).json()
    assert read["status"] == "pool"
    assert (read["phone"], read["email"]) == ("+86138****5678", "w***@example.com")
    claimed = await api.post(f"/v1/pool/{lead['id']}/claim", json={"rep_id": rep}, headers=admin)
    assert claimed.status_code == 200 and claimed.json()["phone"] == "+8613812345678"
    read = (await api.get(f"/v1/leads/{lead['id']}", headers=admin)).json()
    assert (read["phone"], read["email"]) == ("+8613812345678", "wang.fang@example.com")


async def test_teams_are_listed_with_manager_calendar_and_territories(api: httpx.AsyncClient) -> None:
    admin = auth(Role.ADMIN)
    created = (await api.post("/v1/teams", json={"name": "West"}, headers=admin)).json()
    assert (created["manager_id"], created["calendar"], created["territories"]) == (None, None, [])
    calendar = {"timezone": "Asia/Shanghai", "workdays": [1, 2, 3], "start": "09:00", "end": "18:00"}
    patch = {"manager_id": "mgr-west", "calendar": calendar, "territories": ["四川"]}
    patched = (await api.patch(f"/v1/teams/{created['id']}", json=patch, headers=admin)).json()
    listed = (await api.get("/v1/teams", headers=auth(Role.MANAGER))).json()
    assert listed == [patched]
    assert (patched["manager_id"], patched["territories"], patched["calendar"]["workdays"]) == (
        "mgr-west",
        ["四川"],
        [1, 2, 3],
    )
