"""The edge itself: body limits, unavailable peers, health, OpenAPI, metrics and the other resources."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from prometheus_client import REGISTRY

from gateway.core.config import Role
from gateway.tests.support import Doubles, assert_problem, auth

LIMIT = 1_048_576


async def test_body_over_the_limit_by_content_length_is_413(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/webhooks/web-form", content=b"x" * (LIMIT + 1),
        headers={**auth(Role.SYSTEM), "Content-Type": "application/json"},
    )
    assert_problem(response, 413)


async def test_chunked_body_over_the_limit_is_413(client: httpx.AsyncClient, doubles: Doubles) -> None:
    calls = doubles.integration.count("ReceiveWebhook")

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"notes": "'
        for _ in range(20):
            yield b"x" * 65_536
        yield b'"}'

    response = await client.post(
        "/v1/webhooks/web-form", content=chunks(), headers={**auth(Role.SYSTEM), "Content-Type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    assert_problem(response, 413)
    assert doubles.integration.count("ReceiveWebhook") == calls


async def test_chunked_body_under_the_limit_passes(client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"phone": '
        yield b'"+8613800138000"}'

    response = await client.post(
        "/v1/leads", content=chunks(), headers={**auth(Role.SYSTEM), "Content-Type": "application/json"}
    )
    assert response.status_code == 201, response.text


async def test_unavailable_peer_is_503_with_retry_after(broken_client: httpx.AsyncClient) -> None:
    response = await broken_client.post("/v1/leads", json={"phone": "+8613800138000"}, headers=auth(Role.SYSTEM))
    assert_problem(response, 503)
    assert int(response.headers["retry-after"]) > 0


async def test_ready_when_the_lead_service_serves(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz", headers=auth(Role.ADMIN))
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready" and set(body["dependencies"].values()) == {"serving"}
    assert set(body["dependencies"]) == {
        "lead", "customer-master", "pipeline", "notification", "integration-gateway", "reporting"
    }
    assert REGISTRY.get_sample_value("crm_dependency_up", {"dependency": "lead"}) == 1


async def test_not_ready_without_the_lead_service(broken_client: httpx.AsyncClient) -> None:
    response = await broken_client.get("/readyz", headers=auth(Role.ADMIN))
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not_ready"
    assert body["dependencies"]["lead"] == "unreachable"
    assert body["dependencies"]["pipeline"] == "not_serving"
    assert REGISTRY.get_sample_value("crm_dependency_up", {"dependency": "lead"}) == 0


async def test_liveness_checks_nothing(broken_client: httpx.AsyncClient) -> None:
    response = await broken_client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


async def test_openapi_lists_the_routes_without_a_key(client: httpx.AsyncClient) -> None:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert {"/v1/leads", "/v1/leads/{lead_id}", "/v1/leads/{lead_id}/claim", "/v1/leads/{lead_id}/contacts",
            "/v1/webhooks/{source}", "/v1/reports/lead-response", "/v1/teams", "/v1/reps",
            "/v1/reps/{rep_id}/deactivate", "/v1/reps/{rep_id}/activate", "/v1/leads/{lead_id}/notifications",
            "/v1/leads/{lead_id}/opportunities", "/healthz", "/readyz"} <= paths.keys()
    assert "security" in paths["/v1/leads"]["post"]
    assert (await client.get("/docs")).status_code == 200


async def test_unknown_routes_and_methods_are_problems(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/nowhere"), 404)
    assert_problem(await client.get("/v1/nowhere", headers=auth(Role.ADMIN)), 404)
    assert_problem(await client.delete("/v1/teams", headers=auth(Role.ADMIN)), 405)


def _count(route: str, method: str, status: str) -> float:
    labels = {"http_route": route, "http_request_method": method, "http_response_status_code": status}
    return REGISTRY.get_sample_value("crm_http_server_duration_seconds_count", labels) or 0.0


async def test_request_duration_is_recorded_by_route_template(client: httpx.AsyncClient) -> None:
    before = _count("/v1/leads/{lead_id}", "GET", "404"), _count("/v1/leads/{lead_id}", "GET", "401")
    await client.get(f"/v1/leads/{uuid.uuid4()}", headers=auth(Role.VIEWER))
    await client.get(f"/v1/leads/{uuid.uuid4()}")
    after = _count("/v1/leads/{lead_id}", "GET", "404"), _count("/v1/leads/{lead_id}", "GET", "401")
    assert (after[0] - before[0], after[1] - before[1]) == (1, 1)


async def test_webhook_is_relayed_as_a_struct_idempotently(client: httpx.AsyncClient, doubles: Doubles) -> None:
    payload = {"name": "Han Meimei", "tel": "13900139000", "answers": {"budget": 5000, "tags": ["a", None]}}
    headers = {**auth(Role.SYSTEM), "Idempotency-Key": "hook-1"}
    first = await client.post("/v1/webhooks/web-form", json=payload, headers=headers)
    again = await client.post("/v1/webhooks/web-form", json=payload, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"] and first.json()["source"] == "web-form"
    assert {"id", "source", "lead_id", "status", "error", "received_at"} <= first.json().keys()
    assert doubles.integration.payloads[-1] == {"name": "Han Meimei", "tel": "13900139000",
                                                "answers": {"budget": 5000.0, "tags": ["a", None]}}


@pytest.mark.parametrize("body", [b"[1, 2]", b'"text"', b"42", b"{"])
async def test_webhook_body_must_be_a_json_object(client: httpx.AsyncClient, body: bytes) -> None:
    response = await client.post(
        "/v1/webhooks/web-form", content=body, headers={**auth(Role.ADMIN), "Content-Type": "application/json"}
    )
    assert_problem(response, 422, "body")


async def test_webhook_nested_too_deep_is_422(client: httpx.AsyncClient) -> None:
    payload: dict[str, object] = {}
    node = payload
    for _ in range(40):
        node["x"] = {}
        node = node["x"]  # type: ignore[assignment]
    response = await client.post("/v1/webhooks/web-form", json=payload, headers=auth(Role.ADMIN))
    assert_problem(response, 422, "body")


async def test_lead_response_report(client: httpx.AsyncClient, doubles: Doubles) -> None:
    response = await client.get(
        "/v1/reports/lead-response",
        params={"captured_from": "2025-01-01T08:00:00+08:00", "captured_to": "2025-02-01T00:00:00Z", "channel": "web"},
        headers=auth(Role.VIEWER),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["leads_captured"] == 12
    assert body["time_to_first_contact"] == {"count": 3, "p50_seconds": 600.0, "p90_seconds": 3000.0}
    sent = doubles.reporting.last_request
    assert sent is not None and sent.channel == "web"
    assert sent.captured_from.ToJsonString() == "2025-01-01T00:00:00Z"


@pytest.mark.parametrize(
    ("params", "field"),
    [({"captured_from": "yesterday"}, "captured_from"),
     ({"captured_from": "2025-02-01T00:00:00Z", "captured_to": "2025-01-01T00:00:00Z"}, "captured_to")],
)
async def test_bad_report_window_is_422(client: httpx.AsyncClient, params: dict[str, str], field: str) -> None:
    response = await client.get("/v1/reports/lead-response", params=params, headers=auth(Role.MANAGER))
    assert_problem(response, 422, field)


async def test_teams_and_reps(client: httpx.AsyncClient) -> None:
    admin = auth(Role.ADMIN)
    team = (await client.post("/v1/teams", json={"name": " East "}, headers=admin)).json()
    assert team["name"] == "East"
    created = await client.post("/v1/reps", json={"name": "Wang", "team_id": team["id"], "email": "w@x.cn"}, headers=admin)
    assert created.status_code == 201
    rep = created.json()
    assert rep["active"] is True
    assert team in (await client.get("/v1/teams", headers=auth(Role.MANAGER))).json()
    listed = await client.get("/v1/reps", params={"team_id": team["id"]}, headers=auth(Role.SYSTEM))
    assert [r["id"] for r in listed.json()] == [rep["id"]]
    off = await client.post(f"/v1/reps/{rep['id']}/deactivate", headers=admin)
    assert off.status_code == 200 and off.json()["active"] is False
    on = await client.post(f"/v1/reps/{rep['id']}/activate", headers=admin)
    assert on.json()["active"] is True
    assert_problem(await client.post(f"/v1/reps/{uuid.uuid4()}/activate", headers=admin), 404)
    assert_problem(await client.post("/v1/reps", json={"name": "Li", "team_id": "nope"}, headers=admin), 422, "team_id")
    assert_problem(await client.post("/v1/teams", json={"name": ""}, headers=admin), 422, "name")
