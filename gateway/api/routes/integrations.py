"""Inbound webhook sources (admin): signing secret, payload mapping, kind."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from crm.integration.v1 import integration_pb2
from crm_common.access import Action, Resource
from gateway.api.deps import IntegrationClientDep, permit
from gateway.core.peers import CALL_DEADLINE_SECONDS
from gateway.core.security import Caller
from gateway.integration_schemas import SourceIn, SourceOut, from_proto

router = APIRouter(prefix="/v1/integrations", tags=["integrations"])
SourceName = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$", description="The source's slug.")]


@router.put("/sources/{source}", response_model=SourceOut)
async def put_source(
    source: SourceName,
    body: SourceIn,
    _caller: Annotated[Caller, Depends(permit(Resource.INTEGRATION, Action.UPDATE))],
    client: IntegrationClientDep,
) -> SourceOut:
    """Configure a source; with a secret its webhooks must be Standard-Webhooks-signed (and need no API key)."""
    reply = await client.PutSource(
        integration_pb2.PutSourceRequest(source=source, secret=body.secret or "", mapping=body.mapping or {},
                                         kind=body.kind or ""),
        timeout=CALL_DEADLINE_SECONDS,
    )
    return from_proto(SourceOut, reply.source)


@router.get("/sources/{source}", response_model=SourceOut)
async def get_source(
    source: SourceName,
    _caller: Annotated[Caller, Depends(permit(Resource.INTEGRATION, Action.READ))],
    client: IntegrationClientDep,
) -> SourceOut:
    """A source's configuration (never its secret)."""
    reply = await client.GetSource(integration_pb2.GetSourceRequest(source=source), timeout=CALL_DEADLINE_SECONDS)
    return from_proto(SourceOut, reply.source)
