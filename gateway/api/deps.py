"""Dependencies of the routes, as Annotated aliases so that handler signatures read like prose."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Header, Path, Request

from crm.integration.v1 import integration_pb2_grpc
from crm.lead.v1 import lead_pb2_grpc
from crm.notification.v1 import notification_pb2_grpc
from crm.pipeline.v1 import pipeline_pb2_grpc
from crm.reporting.v1 import reporting_pb2_grpc
from crm_common.access import Action, Resource, allowed_roles
from gateway.core.errors import Problem
from gateway.core.peers import Peers
from gateway.core.security import UNAUTHENTICATED_HEADERS, Caller, forbidden

# Authentication itself happens in RequireApiKey before the body is read (document_api_keys documents it).
# The dependencies below do no I/O and are `async def` on purpose: FastAPI runs a plain `def` dependency in a
# worker thread, a thread hand-off per dependency per request that cost the edge more than the routes' own work.
# They are also shallow on purpose (a role check or a client reads the request itself, not another dependency):
# FastAPI resolves every sub-dependency again on each request, and the three a capture no longer resolves (the
# caller, the bearer scheme, the peers) were 10% of the app's work per capture (uvicorn aside).


def _caller_of(request: Request) -> Caller:
    caller = getattr(request.state, "caller", None)
    if not isinstance(caller, Caller):
        raise Problem(401, "a valid API key is required", headers=UNAUTHENTICATED_HEADERS)
    return caller


async def current_caller(request: Request) -> Caller:
    return _caller_of(request)


CallerDep = Annotated[Caller, Depends(current_caller)]


def permit(resource: Resource, action: Action) -> Callable[[Request], Awaitable[Caller]]:
    """A dependency that lets through the roles the access matrix lets do the action at all (the edge's first guard).

    The service behind the route is the real guard: it decides ownership and masking from the same matrix.
    """
    roles = allowed_roles(resource, action)

    async def check(request: Request) -> Caller:
        caller = _caller_of(request)
        if caller.role not in roles:
            raise forbidden(f"the {caller.role} role may not {action.value} {resource.value}")
        return caller

    # Which cell of the matrix this route is (the generated access test finds every route's).
    check.access = (resource, action)  # type: ignore[attr-defined]
    return check


R, A = Resource, Action
LeadReadDep = Annotated[Caller, Depends(permit(R.LEAD, A.READ))]
LeadCreateDep = Annotated[Caller, Depends(permit(R.LEAD, A.CREATE))]
LeadActDep = Annotated[Caller, Depends(permit(R.LEAD, A.ACT))]
LeadUpdateDep = Annotated[Caller, Depends(permit(R.LEAD, A.UPDATE))]
PoolReadDep = Annotated[Caller, Depends(permit(R.POOL, A.READ))]
PoolActDep = Annotated[Caller, Depends(permit(R.POOL, A.ACT))]
QuarantineReadDep = Annotated[Caller, Depends(permit(R.QUARANTINE, A.READ))]
QuarantineActDep = Annotated[Caller, Depends(permit(R.QUARANTINE, A.ACT))]
RoutingReadDep = Annotated[Caller, Depends(permit(R.ROUTING_RULES, A.READ))]
RoutingDraftDep = Annotated[Caller, Depends(permit(R.ROUTING_RULES, A.MATCH))]
RoutingUpdateDep = Annotated[Caller, Depends(permit(R.ROUTING_RULES, A.UPDATE))]
TeamReadDep = Annotated[Caller, Depends(permit(R.TEAM, A.READ))]
TeamUpdateDep = Annotated[Caller, Depends(permit(R.TEAM, A.UPDATE))]
RepReadDep = Annotated[Caller, Depends(permit(R.REP, A.READ))]
RepUpdateDep = Annotated[Caller, Depends(permit(R.REP, A.UPDATE))]
CustomerReadDep = Annotated[Caller, Depends(permit(R.CUSTOMER, A.READ))]
CustomerMatchDep = Annotated[Caller, Depends(permit(R.CUSTOMER, A.MATCH))]
CustomerUpdateDep = Annotated[Caller, Depends(permit(R.CUSTOMER, A.UPDATE))]
StewardReadDep = Annotated[Caller, Depends(permit(R.STEWARDSHIP, A.READ))]
StewardActDep = Annotated[Caller, Depends(permit(R.STEWARDSHIP, A.ACT))]
MatchRulesReadDep = Annotated[Caller, Depends(permit(R.MATCH_RULES, A.READ))]
MatchRulesUpdateDep = Annotated[Caller, Depends(permit(R.MATCH_RULES, A.UPDATE))]
ContactReadDep = Annotated[Caller, Depends(permit(R.CONTACT, A.READ))]
ContactMatchDep = Annotated[Caller, Depends(permit(R.CONTACT, A.MATCH))]
NotificationReadDep = Annotated[Caller, Depends(permit(R.NOTIFICATION, A.READ))]
NotificationCreateDep = Annotated[Caller, Depends(permit(R.NOTIFICATION, A.CREATE))]
NotificationConfigReadDep = Annotated[Caller, Depends(permit(R.NOTIFICATION_CONFIG, A.READ))]
NotificationConfigUpdateDep = Annotated[Caller, Depends(permit(R.NOTIFICATION_CONFIG, A.UPDATE))]
OpportunityReadDep = Annotated[Caller, Depends(permit(R.OPPORTUNITY, A.READ))]
ReportReadDep = Annotated[Caller, Depends(permit(R.REPORT, A.READ))]
WebhookSendDep = Annotated[Caller, Depends(permit(R.WEBHOOK, A.CREATE))]


def _peers_of(request: Request) -> Peers:
    peers: Peers = request.app.state.peers
    return peers


async def _peers(request: Request) -> Peers:
    return _peers_of(request)


PeersDep = Annotated[Peers, Depends(_peers)]


async def _lead_client(request: Request) -> lead_pb2_grpc.LeadServiceStub:
    return _peers_of(request).lead


async def _pipeline_client(request: Request) -> pipeline_pb2_grpc.PipelineServiceStub:
    return _peers_of(request).pipeline


async def _notification_client(request: Request) -> notification_pb2_grpc.NotificationServiceStub:
    return _peers_of(request).notification


async def _integration_client(request: Request) -> integration_pb2_grpc.IntegrationServiceStub:
    return _peers_of(request).integration


async def _reporting_client(request: Request) -> reporting_pb2_grpc.ReportingServiceStub:
    return _peers_of(request).reporting


LeadClientDep = Annotated[lead_pb2_grpc.LeadServiceStub, Depends(_lead_client)]
PipelineClientDep = Annotated[pipeline_pb2_grpc.PipelineServiceStub, Depends(_pipeline_client)]
NotificationClientDep = Annotated[notification_pb2_grpc.NotificationServiceStub, Depends(_notification_client)]
IntegrationClientDep = Annotated[integration_pb2_grpc.IntegrationServiceStub, Depends(_integration_client)]
ReportingClientDep = Annotated[reporting_pb2_grpc.ReportingServiceStub, Depends(_reporting_client)]


def canonical_id(value: str, kind: str) -> str:
    """Ids are UUIDs everywhere; one that cannot exist is a 404 without asking the service."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise Problem(404, f"no {kind} {value[:64]}") from None


async def _lead_id(lead_id: Annotated[str, Path(description="The lead's id (a UUID).")]) -> str:
    return canonical_id(lead_id, "lead")


async def _rep_id(rep_id: Annotated[str, Path(description="The rep's id (a UUID).")]) -> str:
    return canonical_id(rep_id, "rep")


async def _customer_id(customer_id: Annotated[str, Path(description="The customer's id (a UUID).")]) -> str:
    return canonical_id(customer_id, "customer")


LeadIdDep = Annotated[str, Depends(_lead_id)]
RepIdDep = Annotated[str, Depends(_rep_id)]
CustomerIdDep = Annotated[str, Depends(_customer_id)]


def actor_of(caller: Caller) -> str:
    """Who to name in a record's history: the caller's rep id, else its key's name, else its role."""
    return caller.rep_id or caller.name or caller.role.value


IdempotencyKeyDep = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=200,
        description="A repeat with the same key returns the first result and creates nothing.",
    ),
]
