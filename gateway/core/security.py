"""API keys: callers present a key, the edge knows only its SHA-256 and the role it grants."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.core.config import ApiKey, Role
from gateway.core.errors import FieldError, Problem, problem_response

PROTECTED_PREFIX = "/v1"
UNAUTHENTICATED_HEADERS = {"WWW-Authenticate": "Bearer"}
API_KEY_SCHEME = "HTTPBearer"
_OPERATIONS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


@dataclass(frozen=True)
class Caller:
    """Who is calling, as far as the API key says."""

    role: Role
    rep_id: str | None = None
    name: str | None = None


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
        return Caller(role=found.role, rep_id=found.rep_id, name=found.name) if found else None


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
    """The authenticated caller of a request, or None."""
    token = bearer_token(Headers(scope=scope).get("authorization"))
    return keyring.identify(token) if token else None


def is_protected(path: str) -> bool:
    """Whether a path needs an API key (every /v1 route; health, docs and OpenAPI do not)."""
    return path == PROTECTED_PREFIX or path.startswith(PROTECTED_PREFIX + "/")


class RequireApiKey:
    """Refuses /v1 requests without a known key before their body is even read."""

    def __init__(self, app: ASGIApp, keyring: KeyRing) -> None:
        self.app = app
        self.keyring = keyring

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_protected(scope["path"]):
            await self.app(scope, receive, send)
            return
        caller = caller_of(scope, self.keyring)
        if caller is None:
            response = problem_response(
                401,
                "a valid API key is required: Authorization: Bearer <key>",
                instance=scope["path"],
                headers=UNAUTHENTICATED_HEADERS,
            )
            await response(scope, receive, send)
            return
        scope.setdefault("state", {})["caller"] = caller
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
