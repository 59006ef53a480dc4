"""Liveness and readiness for Kubernetes: no API key, no dependency checks in liveness."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from gateway import schemas
from gateway.api.deps import PeersDep
from gateway.core.config import Role
from gateway.core.peers import REQUIRED_PEERS, Peers
from gateway.core.security import caller_of

router = APIRouter(tags=["health"])

# However many probes (or strangers) ask, the peers are asked at most once per interval.
HEALTH_CACHE_SECONDS = 2.0


class PeerHealth:
    """The peers' health as last checked, shared by every readiness request until it is older than the interval."""

    def __init__(self, max_age: float = HEALTH_CACHE_SECONDS) -> None:
        self.max_age = max_age
        self.checks = 0  # how many times the peers were actually asked
        self._statuses: dict[str, str] = {}
        self._at = -float("inf")
        self._lock = asyncio.Lock()

    async def of(self, peers: Peers) -> dict[str, str]:
        if time.monotonic() - self._at < self.max_age:
            return self._statuses
        async with self._lock:  # concurrent requests wait for the one check in flight instead of starting theirs
            if time.monotonic() - self._at >= self.max_age:
                self._statuses = await peers.health()
                self._at = time.monotonic()
                self.checks += 1
        return self._statuses


async def _peer_health(request: Request) -> PeerHealth:
    health: PeerHealth | None = getattr(request.app.state, "peer_health", None)
    if health is None:
        health = request.app.state.peer_health = PeerHealth()
    return health


async def _is_admin(request: Request) -> bool:
    caller = caller_of(request.scope, request.app.state.keyring)
    return caller is not None and caller.role is Role.ADMIN


PeerHealthDep = Annotated[PeerHealth, Depends(_peer_health)]
AdminAskingDep = Annotated[bool, Depends(_is_admin)]


@router.get("/healthz")
async def liveness() -> dict[str, str]:
    """The process answers; restarting it would not help a broken dependency, so none is checked."""
    return {"status": "ok"}


@router.get("/readyz", response_model=schemas.ReadinessOut, response_model_exclude_none=True,
            responses={503: {"model": schemas.ReadinessOut}})
async def readiness(peers: PeersDep, health: PeerHealthDep, admin: AdminAskingDep, response: Response) -> schemas.ReadinessOut:
    """Ready when the lead service serves. Each peer's status only to an admin's API key (and on the metrics port)."""
    dependencies = await health.of(peers)
    ready = all(dependencies.get(name) == "serving" for name in REQUIRED_PEERS)
    response.status_code = 200 if ready else 503
    return schemas.ReadinessOut(status="ready" if ready else "not_ready", dependencies=dependencies if admin else None)
