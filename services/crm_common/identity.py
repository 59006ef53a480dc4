"""Who is calling: a short-lived signed token in gRPC metadata, verified by every service, never the request body."""

from __future__ import annotations

import time
import uuid
from collections import namedtuple
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import grpc
import jwt

from crm_common.errors import DomainError, PermissionDenied

# The metadata key the token travels under (gRPC metadata keys are lower case).
METADATA_KEY = "x-crm-identity"
# gRPC metadata by which a trusted hop names whose Idempotency-Key it forwards (the integration gateway: the
# webhook source). A verified service identity keeps it as a sub-scope; a user's identity ignores it.
IDEMPOTENCY_SCOPE_METADATA_KEY = "x-crm-idempotency-scope"
ISSUER = "crm-backbone"
ALGORITHM = "HS256"
DEFAULT_TTL_SECONDS = 120
# Clock skew tolerated between pods when checking exp/iat.
LEEWAY_SECONDS = 10


class Role(StrEnum):
    """What a caller may do; the access matrix (docs/security.md) says what each role may see and change."""

    ADMIN = "admin"
    SYSTEM = "system"
    MANAGER = "manager"
    SALES_REP = "sales_rep"
    VIEWER = "viewer"
    # Owns the customer master's golden fields (name, credit code, primary phone, first cooperation date).
    CUSTOMER_SUCCESS_DIRECTOR = "customer_success_director"
    # A service calling another on its own behalf (a consumer, a timer), or for the user it names.
    SERVICE = "service"


class Unauthenticated(DomainError):
    """No identity, or one that does not verify."""

    code = grpc.StatusCode.UNAUTHENTICATED


@dataclass(frozen=True)
class Principal:
    """The verified caller of one call."""

    subject: str
    role: Role
    rep_id: str | None = None
    # The teams a manager manages (a manager sees and changes only these).
    team_ids: tuple[str, ...] = ()
    # Set when a service makes the call: its name (e.g. "lead").
    service: str | None = None
    # The user a service acts for, when it acts for one (a capture by a rep resolves the customer for that rep).
    on_behalf_of: Principal | None = field(default=None, compare=False)

    @property
    def is_service(self) -> bool:
        return self.role is Role.SERVICE

    @property
    def acting_for(self) -> Principal:
        """The user whose rights apply: the one a service acts for, else the caller itself."""
        return self.on_behalf_of if self.on_behalf_of is not None else self

    def claims(self) -> dict[str, Any]:
        """The principal as JWT claims."""
        out: dict[str, Any] = {"sub": self.subject, "role": self.role.value}
        if self.rep_id:
            out["rep"] = self.rep_id
        if self.team_ids:
            out["teams"] = list(self.team_ids)
        if self.service:
            out["svc"] = self.service
        if self.on_behalf_of is not None:
            out["obo"] = self.on_behalf_of.claims()
        return out

    @classmethod
    def from_claims(cls, claims: dict[str, Any]) -> Principal:
        """The principal of verified claims (ValueError when they are not a principal's)."""
        obo = claims.get("obo")
        teams = claims.get("teams") or ()
        if not isinstance(teams, list | tuple) or not all(isinstance(t, str) for t in teams):
            raise ValueError("teams must be a list of strings")
        return cls(
            subject=str(claims["sub"]),
            role=Role(claims["role"]),
            rep_id=claims.get("rep") or None,
            team_ids=tuple(teams),
            service=claims.get("svc") or None,
            on_behalf_of=cls.from_claims(obo) if isinstance(obo, dict) else None,
        )


def service_principal(name: str, *, on_behalf_of: Principal | None = None) -> Principal:
    """The identity a service presents when it calls a peer (for a user, or for itself)."""
    return Principal(subject=f"service:{name}", role=Role.SERVICE, service=name, on_behalf_of=on_behalf_of)


class TokenCodec:
    """Mints and verifies the short-lived identity tokens (HS256 with the key every pod gets from one Secret)."""

    def __init__(self, key: str | bytes, *, ttl_seconds: int = DEFAULT_TTL_SECONDS) -> None:
        if not key or len(key) < 32:
            raise ValueError("the identity signing key must be at least 32 bytes")
        self._key = key.encode() if isinstance(key, str) else key
        self._ttl = ttl_seconds

    @property
    def ttl_seconds(self) -> int:
        return self._ttl

    def mint(self, principal: Principal, *, now: float | None = None) -> str:
        issued = int(time.time() if now is None else now)
        claims = principal.claims() | {"iss": ISSUER, "iat": issued, "exp": issued + self._ttl, "jti": uuid.uuid4().hex}
        return jwt.encode(claims, self._key, algorithm=ALGORITHM)

    def verify(self, token: str) -> Principal:
        """The principal a token names; Unauthenticated when it is forged, expired or malformed."""
        return self.verify_with_expiry(token)[0]

    def verify_with_expiry(self, token: str) -> tuple[Principal, float]:
        """The principal a token names and when the token stops being accepted (its exp plus the leeway)."""
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iat", "iss", "sub"]},
            )
            return Principal.from_claims(claims), float(claims["exp"]) + LEEWAY_SECONDS
        except (jwt.PyJWTError, KeyError, ValueError) as err:
            raise Unauthenticated(f"the identity token does not verify: {type(err).__name__}") from None


_current: ContextVar[Principal | None] = ContextVar("crm_principal", default=None)


def current_principal() -> Principal | None:
    """The verified caller of the call being served, or None outside a call."""
    return _current.get()


def require_principal() -> Principal:
    """The verified caller; Unauthenticated when there is none."""
    principal = _current.get()
    if principal is None:
        raise Unauthenticated("this call needs an identity")
    return principal


@contextmanager
def acting_as(principal: Principal | None) -> Iterator[Principal | None]:
    """Run a block as a principal (a consumer or timer as its service, a test as a role)."""
    token = _current.set(principal)
    try:
        yield principal
    finally:
        _current.reset(token)


def require_role(principal: Principal, *roles: Role) -> None:
    """PermissionDenied unless the principal has one of the roles."""
    if principal.role not in roles:
        raise PermissionDenied(f"the {principal.role.value} role may not do this")


def outgoing_principal(service: str) -> Principal:
    """Who a service says it is when it calls a peer now: itself, for the user it serves when it serves one."""
    current = _current.get()
    user = None
    if current is not None:
        user = current.on_behalf_of if current.is_service else current
    return service_principal(service, on_behalf_of=user)


class TokenCache:
    """Mints a principal's token once and reuses it until shortly before it expires (a mint costs CPU)."""

    # Distinct principals are few (services, users active within a TTL); the bound only caps memory.
    MAX_ENTRIES = 4096

    def __init__(self, codec: TokenCodec, *, refresh_before_seconds: float | None = None) -> None:
        self.codec = codec
        # Reused while at least a quarter of its life is left, so a callee never sees it expire in flight.
        self._margin = refresh_before_seconds if refresh_before_seconds is not None else codec.ttl_seconds / 4
        self._tokens: dict[tuple[Principal, Principal | None], tuple[str, float]] = {}

    def token(self, principal: Principal) -> str:
        """A valid token naming the principal (and the user it acts for)."""
        # on_behalf_of is left out of a Principal's equality, so it is part of the key here.
        key = (principal, principal.on_behalf_of)
        now = time.time()
        found = self._tokens.get(key)
        if found is not None and found[1] - self._margin > now:
            return found[0]
        if len(self._tokens) >= self.MAX_ENTRIES:
            self._tokens.clear()
        token = self.codec.mint(principal, now=now)
        self._tokens[key] = (token, int(now) + self.codec.ttl_seconds)
        return token


class VerifiedTokens:
    """Verifies presented tokens, remembering each verified one until it expires (a caller reuses its token)."""

    MAX_ENTRIES = 4096

    def __init__(self, codec: TokenCodec) -> None:
        self.codec = codec
        self._seen: dict[str, tuple[Principal, float]] = {}

    def verify(self, token: str) -> Principal:
        """The principal of a token; Unauthenticated when it does not verify or has expired."""
        now = time.time()
        found = self._seen.get(token)
        if found is not None:
            if found[1] > now:
                return found[0]
            del self._seen[token]
        principal, expires = self.codec.verify_with_expiry(token)
        if len(self._seen) >= self.MAX_ENTRIES:
            self._seen.clear()
        self._seen[token] = (principal, expires)
        return principal


def token_of(metadata: Any) -> str | None:
    """The identity token among a call's metadata pairs, or None."""
    for key, value in metadata or ():
        if key == METADATA_KEY:
            return value if isinstance(value, str) else value.decode()
    return None


class IdentityClientInterceptor(grpc.aio.UnaryUnaryClientInterceptor):
    """Attaches the token of whoever `caller()` names to every unary call of a channel."""

    def __init__(self, tokens: TokenCache, caller: Callable[[], Principal | None]) -> None:
        self.tokens = tokens
        self.caller = caller

    async def intercept_unary_unary(
        self, continuation: Callable[..., Any], client_call_details: grpc.aio.ClientCallDetails, request: Any
    ) -> Any:
        principal = self.caller()
        if principal is not None:
            metadata = grpc.aio.Metadata(*(client_call_details.metadata or ()))
            metadata.add(METADATA_KEY, self.tokens.token(principal))
            client_call_details = client_call_details._replace(metadata=metadata)
        return await continuation(client_call_details, request)


class IdentityStreamClientInterceptor(grpc.aio.UnaryStreamClientInterceptor):
    """The same token on server-streaming calls (grpc.aio files an interceptor under one call type only)."""

    def __init__(self, unary: IdentityClientInterceptor) -> None:
        self.unary = unary

    async def intercept_unary_stream(
        self, continuation: Callable[..., Any], client_call_details: grpc.aio.ClientCallDetails, request: Any
    ) -> Any:
        return await self.unary.intercept_unary_unary(continuation, client_call_details, request)


class _SyncDetails(
    namedtuple("_SyncDetails", ("method", "timeout", "metadata", "credentials", "wait_for_ready", "compression")),
    grpc.ClientCallDetails,
):
    """Call details of a blocking channel, with the token added."""


class SyncIdentityInterceptor(grpc.UnaryUnaryClientInterceptor):
    """The blocking-channel twin of IdentityClientInterceptor (tools, seeding, cross-process tests)."""

    def __init__(self, tokens: TokenCache, caller: Callable[[], Principal | None]) -> None:
        self.tokens = tokens
        self.caller = caller

    def intercept_unary_unary(self, continuation: Callable[..., Any], client_call_details: Any, request: Any) -> Any:
        principal = self.caller()
        if principal is not None:
            metadata = [*(client_call_details.metadata or ()), (METADATA_KEY, self.tokens.token(principal))]
            client_call_details = _SyncDetails(
                client_call_details.method,
                client_call_details.timeout,
                metadata,
                client_call_details.credentials,
                getattr(client_call_details, "wait_for_ready", None),
                getattr(client_call_details, "compression", None),
            )
        return continuation(client_call_details, request)


def user_principal(
    role: Role, *, rep_id: str | None = None, team_ids: tuple[str, ...] = (), subject: str | None = None
) -> Principal:
    """A person's principal with a role (tools, seeding and tests; the edge builds its own from the caller)."""
    return Principal(subject=subject or f"user:{role.value}", role=role, rep_id=rep_id, team_ids=team_ids)
