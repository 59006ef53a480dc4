"""Input no service can store is a 422 (or 415) naming the field, and no peer is called: never a 5xx."""

from __future__ import annotations

import httpx
import pytest

from gateway.core.config import Role
from gateway.tests.support import Doubles, assert_problem, auth

JSON = {"Content-Type": "application/json"}
PHONE = '"phone": "+8613800138000"'


async def _refused_before_the_peer(
    client: httpx.AsyncClient, doubles: Doubles, method: str, url: str, body: bytes | None, status: int, *fields: str
) -> dict[str, object]:
    calls = len(doubles.lead.calls) + len(doubles.integration.calls) + len(doubles.reporting.calls)
    response = await client.request(method, url, content=body, headers={**auth(Role.ADMIN), **JSON})
    problem = assert_problem(response, status, *fields)
    assert len(doubles.lead.calls) + len(doubles.integration.calls) + len(doubles.reporting.calls) == calls
    return problem


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{%s, "notes": "a\\u0000b"}' % PHONE.encode(), "notes"),
        (b'{%s, "source": {"channel": "web\\u0000"}}' % PHONE.encode(), "source.channel"),
        (b'{%s, "name": "\\ud800"}' % PHONE.encode(), "name"),
        (b'{%s, "name": "\\udfff\\ud800"}' % PHONE.encode(), "name"),
    ],
)
async def test_nul_and_lone_surrogates_in_a_lead_are_named(
    client: httpx.AsyncClient, doubles: Doubles, body: bytes, field: str
) -> None:
    await _refused_before_the_peer(client, doubles, "POST", "/v1/leads", body, 422, field)


@pytest.mark.parametrize(
    ("value", "field"),
    [
        (b"NaN", "score"),
        (b"Infinity", "score"),
        (b"-Infinity", "score"),
        (b"1e400", "score"),
        (b"1" + b"0" * 4000, "score"),
        (b"-9223372036854775809", "score"),
        (b'"\\ud800"', "score"),
        (b'"a\\u0000"', "score"),
        (b'[1, {"deep": NaN}]', "score.1.deep"),
    ],
)
async def test_unstorable_webhook_values_are_named(
    client: httpx.AsyncClient, doubles: Doubles, value: bytes, field: str
) -> None:
    body = b'{"tel": "13900139000", "score": %s}' % value
    await _refused_before_the_peer(client, doubles, "POST", "/v1/webhooks/web-form", body, 422, field)


async def test_unstorable_webhook_keys_are_named(client: httpx.AsyncClient, doubles: Doubles) -> None:
    body = b'{"tel": "13900139000", "na\\u0000me": "x", "\\udc00": 1}'
    await _refused_before_the_peer(client, doubles, "POST", "/v1/webhooks/web-form", body, 422, "na?me", "?")


@pytest.mark.parametrize("depth", [400, 100_000])
async def test_deep_nesting_is_refused_as_a_whole(client: httpx.AsyncClient, doubles: Doubles, depth: int) -> None:
    body = b'{"a": ' * depth + b"1" + b"}" * depth
    await _refused_before_the_peer(client, doubles, "POST", "/v1/webhooks/web-form", body, 422, "body")
    lists = b'{"a": ' + b"[" * depth + b"]" * depth + b"}"
    await _refused_before_the_peer(client, doubles, "POST", "/v1/webhooks/web-form", lists, 422, "body")


async def test_a_number_too_long_to_convert_and_a_body_not_utf8_are_named(
    client: httpx.AsyncClient, doubles: Doubles
) -> None:
    long_number = b'{"score": ' + b"9" * 6000 + b"}"
    await _refused_before_the_peer(client, doubles, "POST", "/v1/webhooks/web-form", long_number, 422, "body")
    latin1 = '{"name": "Müller"}'.encode("latin-1")
    await _refused_before_the_peer(client, doubles, "POST", "/v1/webhooks/web-form", latin1, 422, "body")


@pytest.mark.parametrize("stamp", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
async def test_times_outside_the_utc_calendar_are_named(
    client: httpx.AsyncClient, doubles: Doubles, stamp: str
) -> None:
    for name in ("captured_from", "captured_to"):
        url = str(httpx.URL("/v1/reports/lead-response", params={name: stamp}))
        await _refused_before_the_peer(client, doubles, "GET", url, None, 422, name)


async def test_a_time_at_the_calendar_edge_in_utc_is_accepted(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/v1/reports/lead-response",
        params={"captured_from": "0001-01-01T00:00:00Z", "captured_to": "9999-12-31T23:59:59Z"},
        headers=auth(Role.ADMIN),
    )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("version", [str(2**31), "9" * 30, str(2**63)])
async def test_an_unbounded_version_is_named(client: httpx.AsyncClient, version: str) -> None:
    response = await client.get("/v1/survivorship-rules", params={"version": version}, headers=auth(Role.ADMIN))
    assert_problem(response, 422, "version")


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/v1/reports/lead-response?channel=web%00", "channel"),
        ("/v1/reps?team_id=a%00", "team_id"),
        ("/v1/notifications?recipient_id=a%00", "recipient_id"),
        ("/v1/reports/lead-response?channel=%ED%A0%80", "channel"),
        ("/v1/leads/a%00", "lead_id"),
        ("/v1/notification/channels/sms%00", "name"),
        ("/v1/customers/00000000-0000-4000-8000-000000000000/fields/na%00me", "field"),
    ],
)
async def test_nul_in_query_and_path_parameters_is_named(
    client: httpx.AsyncClient, doubles: Doubles, url: str, field: str
) -> None:
    method = "PUT" if "/fields/" in url else "GET"
    body = b'{"value": "x"}' if method == "PUT" else None
    problem = await _refused_before_the_peer(client, doubles, method, url, body, 422, field)
    assert "\x00" not in str(problem["instance"])


async def test_nul_in_a_webhook_source_is_named(client: httpx.AsyncClient, doubles: Doubles) -> None:
    body = b'{"tel": "13900139000"}'
    await _refused_before_the_peer(client, doubles, "POST", "/v1/webhooks/ac%00me", body, 422, "source")


async def test_a_body_that_is_not_json_is_415(client: httpx.AsyncClient, doubles: Doubles) -> None:
    calls = len(doubles.lead.calls)
    response = await client.post(
        "/v1/leads", content=b"phone=13800138000", headers={**auth(Role.ADMIN), "Content-Type": "text/plain"}
    )
    assert_problem(response, 415, "Content-Type")
    assert len(doubles.lead.calls) == calls


async def test_well_formed_input_still_passes(client: httpx.AsyncClient, doubles: Doubles) -> None:
    body = '{"tel": "13900139000", "名字": "王芳 🙂", "score": 1.5e300, "n": -9223372036854775808}'.encode()
    response = await client.post(
        "/v1/webhooks/web-form", content=body, headers={**auth(Role.ADMIN), "Content-Type": "application/json; charset=utf-8"}
    )
    assert response.status_code == 201, response.text


async def test_unauthenticated_bodies_are_not_read(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/leads", content=b'{"notes": NaN}', headers=JSON)
    assert_problem(response, 401)


async def test_openapi_documents_every_problem_as_problem_json(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert spec["components"]["schemas"]["Problem"]["required"][:3] == ["type", "title", "status"]
    capture = spec["paths"]["/v1/leads"]["post"]["responses"]
    for status in ("401", "403", "404", "409", "413", "415", "422", "429", "502", "503"):
        assert list(capture[status]["content"]) == ["application/problem+json"], status
    assert "415" not in spec["paths"]["/v1/leads/{lead_id}"]["get"]["responses"]
    assert "401" not in spec["paths"]["/healthz"]["get"]["responses"]
