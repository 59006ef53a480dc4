"""The one access model: role x resource x action with ownership, as data every service and the edge decide from."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

from crm_common.errors import PermissionDenied
from crm_common.identity import Principal, Role, current_principal


class Scope(StrEnum):
    """How much of a resource a role reaches with an action."""

    # Every record, personal data included.
    ALL = "all"
    # The records of the manager's teams (Principal.team_ids).
    TEAM = "team"
    # The records the caller owns (a rep's assigned leads, the customers behind them, ...).
    OWN = "own"
    # Every record, with personal data (phone, e-mail, ID numbers, notes) masked or left out.
    FIGURES = "figures"
    NONE = "none"


class Resource(StrEnum):
    LEAD = "lead"
    POOL = "pool"
    QUARANTINE = "quarantine"
    ROUTING_RULES = "routing_rules"
    TEAM = "team"
    REP = "rep"
    CUSTOMER = "customer"
    GOLDEN_FIELD = "golden_field"
    STEWARDSHIP = "stewardship"
    MATCH_RULES = "match_rules"
    CONTACT = "contact"
    NOTIFICATION = "notification"
    NOTIFICATION_CONFIG = "notification_config"
    OPPORTUNITY = "opportunity"
    PIPELINE = "pipeline"
    APPROVAL = "approval"
    FORECAST = "forecast"
    REPORT = "report"
    # Reports built from the event projections (funnel, heatmaps, health, KPI): a rep sees their own rows.
    SALES_REPORT = "sales_report"
    REPORT_EXPORT = "report_export"
    WEBHOOK = "webhook"
    INTEGRATION = "integration"
    SUBSCRIPTION = "subscription"
    DEPENDENCY = "dependency"


class Action(StrEnum):
    READ = "read"
    CREATE = "create"
    UPDATE = "update"
    # Claim, contact or reassign a lead; decide a review or a change request.
    ACT = "act"
    # Search by phone, e-mail or company (returns records, so it is a read of every match).
    MATCH = "match"


S = TypeVar("S")
A, T, OW, F, N = Scope.ALL, Scope.TEAM, Scope.OWN, Scope.FIGURES, Scope.NONE
ROLES = (Role.ADMIN, Role.SYSTEM, Role.MANAGER, Role.SALES_REP, Role.VIEWER, Role.CUSTOMER_SUCCESS_DIRECTOR)


def _row(admin: Scope, system: Scope, manager: Scope, rep: Scope, viewer: Scope, csd: Scope) -> dict[Role, Scope]:
    return dict(zip(ROLES, (admin, system, manager, rep, viewer, csd), strict=True))


# The matrix. Rows are (resource, action); columns the roles in ROLES' order:
#                                          admin system manager rep viewer csd
MATRIX: dict[tuple[Resource, Action], dict[Role, Scope]] = {
    (Resource.LEAD, Action.READ): _row(A, A, T, OW, F, N),
    (Resource.LEAD, Action.CREATE): _row(A, A, A, A, N, N),
    (Resource.LEAD, Action.ACT): _row(A, A, T, OW, N, N),
    (Resource.LEAD, Action.UPDATE): _row(A, A, T, N, N, N),
    (Resource.POOL, Action.READ): _row(F, F, F, F, N, N),
    (Resource.POOL, Action.ACT): _row(A, A, T, A, N, N),
    (Resource.QUARANTINE, Action.READ): _row(A, N, A, N, N, N),
    (Resource.QUARANTINE, Action.ACT): _row(A, N, N, N, N, N),
    (Resource.ROUTING_RULES, Action.READ): _row(A, A, A, N, N, N),
    (Resource.ROUTING_RULES, Action.MATCH): _row(A, N, A, N, N, N),
    (Resource.ROUTING_RULES, Action.UPDATE): _row(A, N, N, N, N, N),
    (Resource.TEAM, Action.READ): _row(A, A, A, N, N, N),
    (Resource.TEAM, Action.UPDATE): _row(A, N, N, N, N, N),
    (Resource.REP, Action.READ): _row(A, A, T, N, N, N),
    (Resource.REP, Action.UPDATE): _row(A, N, N, N, N, N),
    (Resource.CUSTOMER, Action.READ): _row(A, A, T, OW, F, A),
    (Resource.CUSTOMER, Action.MATCH): _row(A, A, F, F, N, A),
    (Resource.CUSTOMER, Action.CREATE): _row(A, A, A, A, N, A),
    (Resource.CUSTOMER, Action.UPDATE): _row(A, A, T, OW, N, A),
    (Resource.GOLDEN_FIELD, Action.UPDATE): _row(N, N, N, N, N, A),
    (Resource.STEWARDSHIP, Action.READ): _row(A, N, T, N, N, A),
    (Resource.STEWARDSHIP, Action.ACT): _row(A, N, T, N, N, A),
    (Resource.MATCH_RULES, Action.READ): _row(A, A, A, A, A, A),
    (Resource.MATCH_RULES, Action.UPDATE): _row(A, N, N, N, N, N),
    (Resource.CONTACT, Action.READ): _row(A, A, T, OW, F, A),
    (Resource.CONTACT, Action.MATCH): _row(A, A, F, F, N, A),
    (Resource.NOTIFICATION, Action.READ): _row(A, A, T, OW, F, N),
    (Resource.NOTIFICATION, Action.CREATE): _row(A, A, A, N, N, N),
    (Resource.NOTIFICATION_CONFIG, Action.READ): _row(A, A, F, N, F, N),
    (Resource.NOTIFICATION_CONFIG, Action.UPDATE): _row(A, N, N, N, N, N),
    (Resource.OPPORTUNITY, Action.READ): _row(A, A, F, OW, F, N),
    (Resource.OPPORTUNITY, Action.CREATE): _row(A, A, T, OW, N, N),
    (Resource.OPPORTUNITY, Action.UPDATE): _row(A, A, T, OW, N, N),
    (Resource.OPPORTUNITY, Action.ACT): _row(A, A, T, OW, N, N),
    (Resource.PIPELINE, Action.READ): _row(A, A, A, A, A, N),
    (Resource.PIPELINE, Action.UPDATE): _row(A, N, N, N, N, N),
    (Resource.APPROVAL, Action.READ): _row(A, A, T, OW, N, N),
    (Resource.APPROVAL, Action.ACT): _row(A, N, T, N, N, N),
    (Resource.FORECAST, Action.READ): _row(A, A, T, OW, F, N),
    (Resource.REPORT, Action.READ): _row(A, A, A, N, A, N),
    (Resource.SALES_REPORT, Action.READ): _row(A, A, T, OW, A, N),
    (Resource.REPORT_EXPORT, Action.CREATE): _row(A, A, T, N, A, N),
    (Resource.REPORT_EXPORT, Action.READ): _row(A, A, N, N, N, N),
    (Resource.WEBHOOK, Action.CREATE): _row(A, A, N, N, N, N),
    (Resource.INTEGRATION, Action.READ): _row(A, A, N, N, N, N),
    (Resource.INTEGRATION, Action.UPDATE): _row(A, N, N, N, N, N),
    (Resource.SUBSCRIPTION, Action.CREATE): _row(A, A, N, N, N, N),
    (Resource.SUBSCRIPTION, Action.READ): _row(A, A, N, N, N, N),
    (Resource.SUBSCRIPTION, Action.ACT): _row(A, A, N, N, N, N),
    (Resource.DEPENDENCY, Action.READ): _row(A, A, A, N, A, N),
    (Resource.DEPENDENCY, Action.UPDATE): _row(A, N, N, N, N, N),
}

# Personal data: what FIGURES hides, and what the access audit records a read of.
PERSONAL_FIELDS = frozenset({"phone", "email", "id_number", "credit_code", "notes", "mobile", "address"})


@dataclass(frozen=True)
class Owner:
    """Who a record belongs to: the reps who own it and the teams it sits in (empty: nobody's)."""

    rep_ids: frozenset[str] = frozenset()
    team_ids: frozenset[str] = frozenset()

    @classmethod
    def of(cls, *, reps: Iterable[str | None] = (), teams: Iterable[str | None] = ()) -> Owner:
        return cls(frozenset(r for r in reps if r), frozenset(t for t in teams if t))


NOBODY = Owner()


@dataclass(frozen=True)
class Decision:
    """Whether the call may go on, and whether personal data may be shown in its reply."""

    allowed: bool
    personal: bool
    scope: Scope
    reason: str = field(default="", compare=False)


# A service acting for nobody (a consumer, a timer, an in-process call) is the system's own code: it may do
# what an admin may (it holds the database anyway). Acting for a user, it has that user's rights.
SERVICE_ROLE_AS = Role.ADMIN


def effective(principal: Principal) -> Principal:
    """The principal whose rights apply: a service's user when it acts for one, else the service itself."""
    while principal.role is Role.SERVICE and principal.on_behalf_of is not None:
        principal = principal.on_behalf_of
    return principal


def scope_of(principal: Principal, resource: Resource, action: Action) -> Scope:
    """The scope the matrix grants the principal for the action on the resource."""
    who = effective(principal)
    role = SERVICE_ROLE_AS if who.role is Role.SERVICE else who.role
    return MATRIX[(resource, action)].get(role, Scope.NONE)


def decide(principal: Principal, resource: Resource, action: Action, *, owner: Owner | None = None) -> Decision:
    """The matrix's answer for one record (owner None: the call is not about one record, e.g. a list)."""
    who = effective(principal)
    scope = scope_of(principal, resource, action)
    if scope is Scope.NONE:
        return Decision(False, False, scope, f"the {who.role.value} role may not {action.value} {resource.value}")
    if scope in (Scope.ALL, Scope.FIGURES):
        return Decision(True, scope is Scope.ALL, scope)
    if owner is None:
        # A list or search: allowed, the service narrows it to the caller's records.
        return Decision(True, True, scope)
    if scope is Scope.OWN:
        mine = bool(who.rep_id) and who.rep_id in owner.rep_ids
        return Decision(mine, mine, scope, "" if mine else f"this {resource.value} is not the caller's")
    ours = bool(set(who.team_ids) & owner.team_ids)
    return Decision(ours, ours, scope, "" if ours else f"this {resource.value} is not in the caller's teams")


def require(principal: Principal, resource: Resource, action: Action, *, owner: Owner | None = None) -> Decision:
    """decide(), raising PermissionDenied when refused."""
    decision = decide(principal, resource, action, owner=owner)
    if not decision.allowed:
        raise PermissionDenied(decision.reason)
    return decision


# Served calls always carry a principal (the gRPC server verifies the identity token before a handler runs);
# only code calling a servicer in-process (a consumer, a test) reaches a handler without one.
IN_PROCESS = Principal(subject="in-process", role=Role.SERVICE, service="in-process")


def caller() -> Principal:
    """The principal of the call being served, or the in-process service when the call was not served."""
    return current_principal() or IN_PROCESS


def allowed_roles(resource: Resource, action: Action) -> frozenset[Role]:
    """The roles that may attempt the action at all (the edge's first guard)."""
    return frozenset(role for role, scope in MATRIX[(resource, action)].items() if scope is not Scope.NONE)


def markdown_table() -> str:
    """The matrix as the Markdown table docs/security.md carries (a test keeps the two equal)."""
    header = "| resource | action | " + " | ".join(r.value for r in ROLES) + " |"
    rule = "|" + "---|" * (len(ROLES) + 2)
    rows = [
        f"| {res.value} | {act.value} | " + " | ".join(grants[r].value for r in ROLES) + " |"
        for (res, act), grants in MATRIX.items()
    ]
    return "\n".join([header, rule, *rows])


def guard(methods: Mapping[str, tuple[Resource, Action] | None]) -> Callable[[type[S]], type[S]]:
    """A class decorator checking the caller's role against the matrix before every RPC of a servicer.

    Every RPC of the servicer's generated base class must have an entry (None: the handler checks the record
    itself), so a new RPC without an access decision fails at import, not in production.
    """

    def decorate(cls: type[S]) -> type[S]:
        rpcs = {
            name
            for base in cls.__mro__[1:]
            if base.__name__.endswith("Servicer")
            for name, value in vars(base).items()
            if callable(value) and name[:1].isupper()
        }
        missing = rpcs - set(methods)
        if missing:
            raise TypeError(f"{cls.__name__}: no access decision for {', '.join(sorted(missing))}")
        for name, needed in methods.items():
            if needed is not None:
                setattr(cls, name, _checked(getattr(cls, name), *needed))
        return cls

    return decorate


def _checked(method: Callable[..., Awaitable[Any]], resource: Resource, action: Action) -> Callable[..., Any]:
    @functools.wraps(method)
    async def checked(self: Any, request: Any, context: Any) -> Any:
        require(caller(), resource, action)
        return await method(self, request, context)

    return checked
