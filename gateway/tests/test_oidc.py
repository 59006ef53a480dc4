"""Bearer JWTs of the company's identity provider: verified against its JWKS, served here on 127.0.0.1."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from crm_common.identity import Role
from gateway.core.lead_trace import LeadTraceContext
from gateway.main import create_app
from gateway.tests.doubles import ASSIGNEE_ID
from gateway.tests.support import ADDRESS_FIELDS, Doubles, assert_problem, settings_for

ISSUER = "https://idp.example.test/realms/crm"
AUDIENCE = "crm-api"
GROUPS = {"crm-admins": "admin", "crm-sales": "sales_rep", "crm-managers": "manager"}
LEAD = {"name": "Li Lei", "phone": "+8613800138000"}


class SigningKey:
    """An RSA key of the provider, with its key id."""

    def __init__(self) -> None:
        self.kid = uuid.uuid4().hex[:12]
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwk(self) -> dict[str, Any]:
        return {**RSAAlgorithm.to_jwk(self.private.public_key(), as_dict=True), "kid": self.kid, "use": "sig",
                "alg": "RS256"}

    def token(self, *, kid: str | None = None, **claims: Any) -> str:
        now = int(time.time())
        body = {"iss": ISSUER, "aud": AUDIENCE, "sub": "u-1", "iat": now, "exp": now + 300, **claims}
        return jwt.encode(body, self.private, algorithm="RS256", headers={"kid": kid or self.kid})


class Provider:
    """The provider's JWKS endpoint: the keys it publishes now, and how often it was asked."""

    def __init__(self) -> None:
        self.keys: list[SigningKey] = [SigningKey()]
        self.fetches = 0
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                provider.fetches += 1
                body = json.dumps({"keys": [k.jwk() for k in provider.keys]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/protocol/openid-connect/certs"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def rotate(self) -> SigningKey:
        """Publish a new key and retire the old ones."""
        self.keys = [SigningKey()]
        return self.keys[0]


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    running = Provider()
    running.thread.start()
    yield running
    running.server.shutdown()
    running.server.server_close()


@pytest.fixture(scope="module")
async def oidc_client(doubles: Doubles, provider: Provider) -> AsyncIterator[httpx.AsyncClient]:
    settings = settings_for(
        dict.fromkeys(ADDRESS_FIELDS, doubles.address),
        oidc_issuer=ISSUER,
        oidc_audience=AUDIENCE,
        oidc_jwks_url=provider.url,
        oidc_group_roles=GROUPS,
        # Every unknown key id refetches at once here; the default cooldown would hold a rotation back 30 s.
        oidc_jwks_refresh_cooldown_seconds=0,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=LeadTraceContext(app))
        async with httpx.AsyncClient(transport=transport, base_url="http://edge") as client:
            yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_reps_token_becomes_the_principal_the_services_see(
    oidc_client: httpx.AsyncClient, provider: Provider, doubles: Doubles
) -> None:
    token = provider.keys[0].token(sub="wang", groups=["staff", "crm-sales"], crm_rep_id=ASSIGNEE_ID)
    response = await oidc_client.post("/v1/leads", json=LEAD, headers=bearer(token))
    assert response.status_code == 201, response.text
    caller = doubles.lead.last_caller("CaptureLead")
    assert caller is not None
    assert (caller.subject, caller.role, caller.rep_id) == ("oidc:wang", Role.SALES_REP, ASSIGNEE_ID)


async def test_the_broadest_mapped_group_wins_and_teams_come_from_their_claim(
    oidc_client: httpx.AsyncClient, provider: Provider, doubles: Doubles
) -> None:
    token = provider.keys[0].token(sub="li", groups=["crm-managers", "crm-sales"], crm_rep_id="r9",
                                   crm_team_ids=["t1", "t2"])
    assert (await oidc_client.get("/v1/teams", headers=bearer(token))).status_code == 200
    response = await oidc_client.post("/v1/leads", json=LEAD, headers=bearer(token))
    assert response.status_code == 201, response.text
    caller = doubles.lead.last_caller("CaptureLead")
    assert caller is not None and caller.role is Role.MANAGER and caller.team_ids == ("t1", "t2")


@pytest.mark.parametrize(
    ("claims", "status"),
    [
        ({"aud": "another-api"}, 401),
        ({"iss": "https://evil.example.test"}, 401),
        ({"exp": 1_000_000, "iat": 999_000}, 401),
        ({"groups": ["staff"]}, 403),
        ({"groups": ["crm-sales"]}, 403),  # a sales rep's token without the rep id claim
    ],
    ids=["audience", "issuer", "expired", "no-crm-group", "rep-without-rep-id"],
)
async def test_tokens_for_someone_else_or_granting_no_role_are_refused(
    oidc_client: httpx.AsyncClient, provider: Provider, claims: dict[str, Any], status: int
) -> None:
    token = provider.keys[0].token(**{"groups": ["crm-admins"], **claims})
    assert_problem(await oidc_client.get("/v1/teams", headers=bearer(token)), status)


async def test_a_token_signed_by_a_key_the_provider_does_not_publish_is_refused(
    oidc_client: httpx.AsyncClient, provider: Provider
) -> None:
    forged = SigningKey().token(kid=provider.keys[0].kid, groups=["crm-admins"])
    assert_problem(await oidc_client.get("/v1/teams", headers=bearer(forged)), 401)
    unknown_kid = SigningKey().token(groups=["crm-admins"])
    assert_problem(await oidc_client.get("/v1/teams", headers=bearer(unknown_kid)), 401)


async def test_key_rotation_is_followed_and_a_retired_key_stops_working(
    oidc_client: httpx.AsyncClient, provider: Provider
) -> None:
    old = provider.keys[0]
    before = old.token(groups=["crm-admins"])
    assert (await oidc_client.get("/v1/teams", headers=bearer(before))).status_code == 200
    fetched = provider.fetches
    new = provider.rotate()
    # A token naming the new key id makes the edge fetch the key set again, once.
    assert (await oidc_client.get("/v1/teams", headers=bearer(new.token(groups=["crm-admins"])))).status_code == 200
    assert provider.fetches == fetched + 1
    assert (await oidc_client.get("/v1/teams", headers=bearer(new.token(groups=["crm-admins"])))).status_code == 200
    assert provider.fetches == fetched + 1
    # The refreshed set no longer holds the old key: its tokens are refused from now on.
    assert_problem(await oidc_client.get("/v1/teams", headers=bearer(old.token(groups=["crm-admins"]))), 401)


async def test_api_keys_still_work_beside_the_provider(oidc_client: httpx.AsyncClient) -> None:
    from gateway.tests.support import auth

    assert (await oidc_client.get("/v1/teams", headers=auth(Role.ADMIN))).status_code == 200


def test_oidc_settings_go_together_and_never_grant_the_service_role() -> None:
    base = dict.fromkeys(ADDRESS_FIELDS, "127.0.0.1:1")
    with pytest.raises(ValueError, match="CRM_OIDC_AUDIENCE"):
        settings_for(base, oidc_issuer=ISSUER, oidc_jwks_url="https://idp/certs", oidc_group_roles=GROUPS)
    with pytest.raises(ValueError, match="CRM_OIDC_GROUP_ROLES"):
        settings_for(base, oidc_issuer=ISSUER, oidc_audience=AUDIENCE, oidc_jwks_url="https://idp/certs")
    with pytest.raises(ValueError, match="service role"):
        settings_for(base, oidc_issuer=ISSUER, oidc_audience=AUDIENCE, oidc_jwks_url="https://idp/certs",
                     oidc_group_roles={"robots": "service"})
