"""The external dependency register: every third party, its SLA, owner, and whether its probe sees it up."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from crm.integration.v1 import integration_pb2
from crm_common.access import Action, Resource
from gateway.api.deps import IntegrationClientDep, permit
from gateway.core.peers import CALL_DEADLINE_SECONDS
from gateway.core.security import Caller
from gateway.integration_schemas import DependencyIn, DependencyOut, from_proto

router = APIRouter(tags=["dependencies"])


@router.get("/v1/dependencies", response_model=list[DependencyOut])
async def list_dependencies(
    _caller: Annotated[Caller, Depends(permit(Resource.DEPENDENCY, Action.READ))], client: IntegrationClientDep
) -> list[DependencyOut]:
    """Every external dependency: the register's probed entries and the notification channels' health."""
    reply = await client.ListDependencies(integration_pb2.ListDependenciesRequest(), timeout=CALL_DEADLINE_SECONDS)
    return [from_proto(DependencyOut, d) for d in reply.dependencies]


@router.put("/v1/integrations/dependencies/{name}", response_model=DependencyOut)
async def put_dependency(
    name: Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")],
    body: DependencyIn,
    _caller: Annotated[Caller, Depends(permit(Resource.DEPENDENCY, Action.UPDATE))],
    client: IntegrationClientDep,
) -> DependencyOut:
    """Record a dependency, its SLA, owner and probe URL (checked by the egress guard)."""
    reply = await client.PutDependency(
        integration_pb2.PutDependencyRequest(
            name=name, kind=body.kind, sla=body.sla or "", owner=body.owner or "", probe_url=body.probe_url or ""
        ),
        timeout=CALL_DEADLINE_SECONDS,
    )
    return from_proto(DependencyOut, reply.dependency)
