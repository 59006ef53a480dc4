"""Probes every register entry with a probe URL, often enough to see an outage within seconds."""

from __future__ import annotations

import asyncio
import logging

import httpx

from crm_common.db import Database
from crm_common.egress import EgressGuard, EgressRefused, http_client
from crm_common.metrics import DEPENDENCY_UP
from integration_gateway.dependencies import repository

log = logging.getLogger(__name__)


class DependencyProber:
    """GETs each probe URL every interval; 2xx is up, anything else (or no answer in time) is down."""

    def __init__(self, db: Database, guard: EgressGuard, *, interval: float, timeout: float) -> None:
        self.db = db
        self.interval = interval
        self.client = http_client(guard, timeout=timeout)

    async def run(self) -> None:
        try:
            while True:
                try:
                    await self.probe_once()
                except Exception as err:
                    log.warning("dependency probe round failed: %s", err)
                await asyncio.sleep(self.interval)
        finally:
            await self.client.aclose()

    async def probe_once(self) -> int:
        """Probe every entry with a URL at once; returns how many were probed."""
        async with self.db.connect() as conn:
            entries = [e for e in await repository.list_dependencies(conn) if e.probe_url]
        results = await asyncio.gather(*(self.probe(e.probe_url) for e in entries))
        async with self.db.transaction() as conn:
            for entry, (up, detail) in zip(entries, results, strict=True):
                await repository.record_probe(conn, name=entry.name, up=up, detail=detail)
                DEPENDENCY_UP.labels(entry.name).set(1 if up else 0)
        return len(entries)

    async def probe(self, url: str) -> tuple[bool, str]:
        try:
            response = await self.client.get(url)
        except EgressRefused as err:
            return False, f"destination refused: {err}"
        except httpx.HTTPError as err:
            return False, type(err).__name__
        if 200 <= response.status_code < 300:
            return True, ""
        return False, f"HTTP {response.status_code}"
