"""API keys and roles: 401 before anything else, 403 when the role may not, the key settings, and the caller's
identity reaching the services behind the edge."""

from __future__ import annotations

import hashlib
import json

import httpx
import pytest
from pydantic import ValidationError
from pydantic_settings import SettingsError

from crm_common.identity import Principal
from gateway.core.config import GatewaySettings, Role
from gateway.core.errors import Problem
from gateway.core.security import Caller, KeyRing, acting_rep_id, bearer_token
from gateway.tests.doubles import ASSIGNEE_ID
from gateway.tests.support import KEYS, Doubles, api_keys, assert_problem, auth

IDENTITY_KEY = "an-identity-key-of-the-production-kind-0123456789"

LEAD = {"name": "Li Lei", "phone": "+8613800138000"}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer two tokens"},
        {"Authorization": "Bearer not-a-known-key"},
        {"Authorization": f"Bearer {KEYS[Role.ADMIN]}x"},
    ],
    ids=["missing", "basic", "empty", "two-tokens", "unknown", "almost"],
)
async def test_v1_without_a_valid_key_is_401_problem_with_challenge(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await client.post("/v1/leads", json=LEAD, headers=headers)
    assert_problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["instance"] == "/v1/leads"


async def test_401_comes_before_body_parsing(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/leads", content=b"{not json", headers={"Content-Type": "application/json"})
    assert_problem(response, 401)


async def test_bearer_scheme_is_case_insensitive(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/teams", headers={"Authorization": f"bearer {KEYS[Role.ADMIN]}"})
    assert response.status_code == 200


async def test_openapi_documents_the_key_on_every_v1_operation_and_no_other(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    assert schema["components"]["securitySchemes"]["HTTPBearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key issued to the calling system or person.",
    }
    operations = [(path, op) for path, item in schema["paths"].items() for op in item.values()]
    assert {path for path, op in operations if op.get("security") == [{"HTTPBearer": []}]} == {
        path for path, _ in operations if path.startswith("/v1/")
    }
    assert {path for path, op in operations if "security" not in op} == {"/healthz", "/readyz"}


async def test_viewer_may_not_capture_a_lead(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/leads", json=LEAD, headers=auth(Role.VIEWER))
    body = assert_problem(response, 403)
    assert "viewer" in body["detail"]


async def test_sales_rep_may_not_claim_for_another_rep(client: httpx.AsyncClient) -> None:
    lead = (await client.post("/v1/leads", json=LEAD, headers=auth(Role.SYSTEM))).json()
    response = await client.post(
        f"/v1/leads/{lead['id']}/claim", json={"rep_id": "00000000-0000-4000-8000-00000000dead"},
        headers=auth(Role.SALES_REP),
    )
    assert_problem(response, 403)


@pytest.mark.parametrize(
    ("method", "path", "role"),
    [
        ("post", "/v1/webhooks/web-form", Role.MANAGER),
        ("post", "/v1/webhooks/web-form", Role.SALES_REP),
        ("get", "/v1/reports/lead-response", Role.SALES_REP),
        ("post", "/v1/teams", Role.MANAGER),
        ("get", "/v1/teams", Role.VIEWER),
        ("get", "/v1/reps", Role.SALES_REP),
    ],
)
async def test_roles_are_enforced_per_route(client: httpx.AsyncClient, method: str, path: str, role: Role) -> None:
    kwargs = {"json": {"name": "x"}} if method == "post" else {}
    response = await client.request(method, path, headers=auth(role), **kwargs)
    assert_problem(response, 403)


def test_keyring_matches_only_the_hashed_key() -> None:
    ring = KeyRing(api_keys())
    caller = ring.identify(KEYS[Role.SALES_REP])
    assert caller is not None and caller.subject.startswith("key:")
    assert caller == Caller(role=Role.SALES_REP, rep_id=ASSIGNEE_ID, name="test sales_rep", subject=caller.subject)
    # The subject names the key without showing its hash.
    assert caller.subject[4:] not in hashlib.sha256(KEYS[Role.SALES_REP].encode()).hexdigest()
    assert ring.identify(hashlib.sha256(KEYS[Role.ADMIN].encode()).hexdigest()) is None
    assert ring.identify("") is None


def test_bearer_token_parsing() -> None:
    assert bearer_token("Bearer abc") == "abc"
    assert bearer_token("  BEARER   abc ") == "abc"
    assert bearer_token("Token abc") is None
    assert bearer_token(None) is None


def test_acting_rep_rules() -> None:
    rep = Caller(role=Role.SALES_REP, rep_id="r1")
    assert acting_rep_id(rep, None) == "r1"
    assert acting_rep_id(rep, "r1") == "r1"
    with pytest.raises(Problem) as forbidden:
        acting_rep_id(rep, "r2")
    assert forbidden.value.status_code == 403
    with pytest.raises(Problem) as missing:
        acting_rep_id(Caller(role=Role.MANAGER), None)
    assert missing.value.status_code == 422 and missing.value.errors[0].field == "rep_id"
    assert acting_rep_id(Caller(role=Role.ADMIN), "r2") == "r2"


HASH = "ab" * 32


@pytest.mark.parametrize(
    ("value", "error", "mentions"),
    [
        ("not json", SettingsError, "api_keys"),
        (json.dumps([{"key_sha256": HASH, "role": "boss"}]), ValidationError, "role"),
        (json.dumps([{"key_sha256": HASH, "role": "sales_rep"}]), ValidationError, "rep_id"),
        (json.dumps([{"key_sha256": "abc", "role": "admin"}]), ValidationError, "key_sha256"),
        (json.dumps([{"key_sha256": HASH, "role": "admin", "rep-id": "x"}]), ValidationError, "rep-id"),
        (json.dumps([{"key_sha256": HASH, "role": "admin"}] * 2), ValidationError, "twice"),
        ("[]", ValidationError, "CRM_API_KEYS must be set"),
        ("", ValidationError, "CRM_API_KEYS must be set"),
    ],
)
def test_invalid_api_keys_fail_at_start(
    monkeypatch: pytest.MonkeyPatch, value: str, error: type[Exception], mentions: str
) -> None:
    monkeypatch.setenv("CRM_ENVIRONMENT", "production")
    monkeypatch.setenv("CRM_IDENTITY_KEY", IDENTITY_KEY)
    monkeypatch.setenv("CRM_API_KEYS", value)
    with pytest.raises(error) as caught:
        GatewaySettings()
    assert mentions in str(caught.value)


def test_placeholder_key_refused_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_ENVIRONMENT", "production")
    monkeypatch.setenv("CRM_IDENTITY_KEY", IDENTITY_KEY)
    monkeypatch.setenv(
        "CRM_API_KEYS", json.dumps([{"key_sha256": hashlib.sha256(b"changeme").hexdigest(), "role": "admin"}])
    )
    with pytest.raises(ValidationError, match="placeholder"):
        GatewaySettings()


def test_valid_api_keys_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_ENVIRONMENT", "production")
    monkeypatch.setenv("CRM_IDENTITY_KEY", IDENTITY_KEY)
    monkeypatch.setenv(
        "CRM_API_KEYS",
        json.dumps([{"key_sha256": HASH.upper(), "role": "sales_rep", "rep_id": "r1", "name": "Wang's phone"}]),
    )
    monkeypatch.setenv("CRM_MAX_BODY_BYTES", "2048")
    settings = GatewaySettings()
    assert settings.api_keys[0].key_sha256 == HASH and settings.api_keys[0].role is Role.SALES_REP
    assert settings.max_body_bytes == 2048 and settings.http_port == 8080
    assert HASH not in repr(settings) and IDENTITY_KEY not in repr(settings)


def test_production_refuses_a_missing_or_placeholder_identity_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_ENVIRONMENT", "production")
    monkeypatch.setenv("CRM_API_KEYS", json.dumps([{"key_sha256": HASH, "role": "admin"}]))
    with pytest.raises(ValidationError, match="CRM_IDENTITY_KEY must be set"):
        GatewaySettings()
    monkeypatch.setenv("CRM_IDENTITY_KEY", "changeme-changeme-changeme-changeme")
    with pytest.raises(ValidationError, match="placeholder"):
        GatewaySettings()


def test_a_manager_key_carries_its_teams_and_no_key_may_be_a_service(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_ENVIRONMENT", "test")
    key = {"key_sha256": HASH, "role": "manager", "team_ids": ["t1", "t2"]}
    monkeypatch.setenv("CRM_API_KEYS", json.dumps([key]))
    caller = KeyRing(GatewaySettings().api_keys).identify("\x00")
    assert caller is None
    manager = GatewaySettings().api_keys[0]
    assert manager.team_ids == ("t1", "t2")
    monkeypatch.setenv("CRM_API_KEYS", json.dumps([{"key_sha256": HASH, "role": "service"}]))
    with pytest.raises(ValidationError, match="service role"):
        GatewaySettings()


async def test_the_callers_identity_reaches_the_service_in_a_verified_token(
    client: httpx.AsyncClient, doubles: Doubles
) -> None:
    response = await client.post("/v1/leads", json=LEAD, headers=auth(Role.SALES_REP))
    assert response.status_code == 201, response.text
    caller = doubles.lead.last_caller("CaptureLead")
    assert isinstance(caller, Principal)
    assert (caller.role, caller.rep_id, caller.subject[:4]) == (Role.SALES_REP, ASSIGNEE_ID, "key:")
    assert doubles.lead.last("CaptureLead")["x-crm-identity"].count(".") == 2
