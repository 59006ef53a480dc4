"""Liveness and readiness for Kubernetes: no API key, no dependency checks in liveness."""

from __future__ import annotations

from fastapi import APIRouter, Response

from gateway import schemas
from gateway.api.deps import PeersDep
from gateway.core.peers import REQUIRED_PEERS

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def liveness() -> dict[str, str]:
    """The process answers; restarting it would not help a broken dependency, so none is checked."""
    return {"status": "ok"}


@router.get("/readyz", response_model=schemas.ReadinessOut, responses={503: {"model": schemas.ReadinessOut}})
async def readiness(peers: PeersDep, response: Response) -> schemas.ReadinessOut:
    """Ready when the lead service serves; the other services are reported, not required."""
    dependencies = await peers.health()
    ready = all(dependencies.get(name) == "serving" for name in REQUIRED_PEERS)
    response.status_code = 200 if ready else 503
    return schemas.ReadinessOut(status="ready" if ready else "not_ready", dependencies=dependencies)
