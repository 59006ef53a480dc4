"""Who calls the edge: an API key (known by its SHA-256) or the identity provider's JWT, as a Principal.

The request then runs as that principal (crm_common.identity.acting_as), and every gRPC call it makes carries
the principal's short-lived token (gateway.core.peers), so the services decide from it, not from the body.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt
from anyio import to_thread
from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from crm_common.identity import Principal, acting_as
from gateway.core.config import ApiKey, GatewaySettings, Role
from gateway.core.errors import FieldError, Problem, problem_response

log = logging.getLogger(__name__)

PROTECTED_PREFIX = "/v1"
UNAUTHENTICATED_HEADERS = {"WWW-Authenticate": "Bearer"}
API_KEY_SCHEME = "HTTPBearer"
_OPERATIONS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


# When a caller holds several mapped groups, the broadest role wins.
ROLE_RANK = (Role.ADMIN, Role.CUSTOMER_SUCCESS_DIRECTOR, Role.MANAGER, Role.SYSTEM, Role.SALES_REP, Role.VIEWER)


@dataclass(frozen=True)
class Caller:
    """Who is calling, as far as the API key or the identity provider says."""

    role: Role
    rep_id: str | None = None
    name: str | None = None
    team_ids: tuple[str, ...] = ()
    # Stable id of the caller in audit records: `key:<digest>` or `oidc:<sub>`.
    subject: str = ""

    def principal(self) -> Principal:
        """The principal the services see for this caller."""
        return Principal(subject=self.subject or f"role:{self.role.value}", role=self.role,
                         rep_id=self.rep_id, team_ids=self.team_ids)


class KeyRing:
    """The accepted keys; a presented key is hashed and compared in constant time."""

    def __init__(self, keys: Iterable[ApiKey]) -> None:
        self._keys = [(bytes.fromhex(key.key_sha256), key) for key in keys]

    def identify(self, presented: str) -> Caller | None:
        """The caller a presented key belongs to, or None for an unknown key."""
        digest = hashlib.sha256(presented.encode()).digest()
        found: ApiKey | None = None
        # Every stored hash is compared, so the time taken says nothing about which one matched.
        for stored, key in self._keys:
            if hmac.compare_digest(digest, stored):
                found = key
        if found is None:
            return None
        # A digest of the stored hash: stable per key, and no part of the hash itself in audit records.
        subject = "key:" + hashlib.sha256(found.key_sha256.encode()).hexdigest()[:16]
        return Caller(role=found.role, rep_id=found.rep_id, name=found.name, team_ids=found.team_ids, subject=subject)


class NoRole(Exception):
    """A verified identity-provider token whose groups map to no CRM role (or a rep without a rep id)."""


class OidcVerifier:
    """Verifies the identity provider's JWTs against its JWKS (cached; fetched again for a key id it lacks)."""

    def __init__(self, settings: GatewaySettings) -> None:
        self.issuer = settings.oidc_issuer
        self.audience = settings.oidc_audience
        self.algorithms = list(settings.oidc_algorithms)
        self.group_roles: Mapping[str, Role] = settings.oidc_group_roles
        self.groups_claim = settings.oidc_groups_claim
        self.rep_claim = settings.oidc_rep_claim
        self.teams_claim = settings.oidc_teams_claim
        # PyJWKClient caches the key set for `lifespan` seconds and refetches it when a token names a key id it
        # does not hold (the provider rotated its keys), at most once per cooldown (tokens with made-up key ids
        # cannot make the edge hammer the provider). No per-key cache: it never expires, so a key the provider
        # retired would stay trusted.
        self.jwks = jwt.PyJWKClient(
            settings.oidc_jwks_url,
            cache_keys=False,
            lifespan=settings.oidc_jwks_cache_seconds,
            cooldown_duration=settings.oidc_jwks_refresh_cooldown_seconds,
            timeout=5,
        )

    def identify(self, token: str) -> Caller | None:
        """The caller a token names; None when it does not verify; NoRole when it grants no CRM role.

        Blocking (it may fetch the JWKS): call it from a worker thread.
        """
        try:
            key = self.jwks.get_signing_key_from_jwt(token)
            claims = jwt.decode(
                token,
                key.key,
                algorithms=self.algorithms,
                audience=self.audience,
                issuer=self.issuer,
                leeway=30,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.PyJWKClientConnectionError:
            log.warning("the identity provider's JWKS could not be fetched")
            return None
        except jwt.PyJWTError as err:
            log.info("bearer token refused: %s", type(err).__name__)
            return None
        return self.caller_of(claims)

    def caller_of(self, claims: Mapping[str, Any]) -> Caller:
        groups = claims.get(self.groups_claim) or []
        if isinstance(groups, str):
            groups = [groups]
        roles = {self.group_roles[g] for g in groups if isinstance(g, str) and g in self.group_roles}
        role = next((r for r in ROLE_RANK if r in roles), None)
        if role is None:
            raise NoRole("none of the caller's groups grants a CRM role")
        rep_id = claims.get(self.rep_claim)
        rep_id = str(rep_id) if isinstance(rep_id, str | int) and str(rep_id) else None
        if role is Role.SALES_REP and rep_id is None:
            raise NoRole(f"a sales rep's token needs the {self.rep_claim} claim")
        teams = claims.get(self.teams_claim) or []
        team_ids = tuple(str(t) for t in teams if isinstance(t, str | int)) if isinstance(teams, list) else ()
        return Caller(role=role, rep_id=rep_id, team_ids=team_ids, subject=f"oidc:{claims['sub']}")


def looks_like_jwt(token: str) -> bool:
    """A JWS compact token has three dot-separated parts; API keys have none."""
    return token.count(".") == 2


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None when absent or malformed."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        return None
    return token


def caller_of(scope: Scope, keyring: KeyRing) -> Caller | None:
    """The caller of a request by its API key, or None."""
    token = bearer_token(Headers(scope=scope).get("authorization"))
    return keyring.identify(token) if token else None


def is_protected(path: str) -> bool:
    """Whether a path needs an API key (every /v1 route; health, docs and OpenAPI do not)."""
    return path == PROTECTED_PREFIX or path.startswith(PROTECTED_PREFIX + "/")


# A source that signs its webhooks (Standard Webhooks) needs no API key: only POST /v1/webhooks/{source} carrying a
# webhook-signature, and the integration service verifies the signature (401 for a source without a secret).
SIGNED_WEBHOOK_CALLER = Caller(role=Role.SYSTEM, subject="signed-webhook")


def signed_webhook(scope: Scope) -> bool:
    """Whether a request without a key is a signed webhook, which the integration service authenticates."""
    return (
        scope.get("method") == "POST" and scope["path"].startswith("/v1/webhooks/")
        and "webhook-signature" in Headers(scope=scope)
    )


class RequireApiKey:
    """Refuses /v1 requests without a known API key or a valid identity-provider token before reading the body.

    A known caller's request runs as its principal: every gRPC call it makes carries the principal's token.
    The identity provider is configured by the app's settings (`app.state.settings`, CRM_OIDC_*).
    """

    def __init__(self, app: ASGIApp, keyring: KeyRing, oidc: OidcVerifier | None = None) -> None:
        self.app = app
        self.keyring = keyring
        self.oidc = oidc
        self._oidc_read = oidc is not None

    def _verifier(self, scope: Scope) -> OidcVerifier | None:
        if not self._oidc_read:
            state = getattr(scope.get("app"), "state", None)
            settings = getattr(state, "settings", None)
            if isinstance(settings, GatewaySettings) and settings.oidc_enabled:
                self.oidc = OidcVerifier(settings)
            self._oidc_read = True
        return self.oidc

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_protected(scope["path"]):
            await self.app(scope, receive, send)
            return
        token = bearer_token(Headers(scope=scope).get("authorization"))
        caller: Caller | None = None
        if token:
            verifier = self._verifier(scope)
            if verifier is not None and looks_like_jwt(token):
                try:
                    caller = await to_thread.run_sync(verifier.identify, token)
                except NoRole as err:
                    await problem_response(403, str(err), instance=scope["path"])(scope, receive, send)
                    return
            else:
                caller = self.keyring.identify(token)
        if caller is None and signed_webhook(scope):
            caller = SIGNED_WEBHOOK_CALLER
        if caller is None:
            response = problem_response(
                401,
                "a valid API key or identity-provider token is required: Authorization: Bearer <key or token>",
                instance=scope["path"],
                headers=UNAUTHENTICATED_HEADERS,
            )
            await response(scope, receive, send)
            return
        scope.setdefault("state", {})["caller"] = caller
        with acting_as(caller.principal()):
            await self.app(scope, receive, send)


def document_api_keys(app: FastAPI) -> None:
    """Declare the bearer API key on every /v1 operation of the app's OpenAPI, as RequireApiKey enforces it."""
    # Written into the schema once, rather than declared by a security dependency that FastAPI would resolve
    # (and that would parse the Authorization header again) on every request.
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
            schemes[API_KEY_SCHEME] = {
                "type": "http",
                "scheme": "bearer",
                "description": "An API key issued to the calling system or person.",
            }
            for path, operations in schema.get("paths", {}).items():
                if is_protected(path):
                    for method, operation in operations.items():
                        if method in _OPERATIONS:
                            operation["security"] = [{API_KEY_SCHEME: []}]
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def forbidden(detail: str) -> Problem:
    """403 for an authenticated caller whose role may not do this."""
    return Problem(403, detail)


def acting_rep_id(caller: Caller, requested: str | None) -> str:
    """The rep a claim or contact is recorded for: a sales rep acts as itself, others must name one."""
    if caller.role is Role.SALES_REP:
        if requested and requested != caller.rep_id:
            raise forbidden("a sales rep acts only as itself")
        assert caller.rep_id is not None  # settings refuse a sales_rep key without rep_id
        return caller.rep_id
    if not requested:
        raise Problem(422, "rep_id is required when the caller is not a sales rep",
                      errors=[FieldError("rep_id", "required for this role")])
    return requested
