"""Channel health: a probe per channel every few seconds, recent failure rates, gauges and a status table."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from datetime import UTC, datetime, timedelta

from crm_common.db import Database
from crm_common.metrics import DEPENDENCY_UP, NOTIFICATION_CHANNEL_DEGRADED, NOTIFICATION_TOKEN_EXPIRY
from notification import config_repository, repository
from notification.providers.base import ProbeResult, ProviderAdapter
from notification.registry import ChannelRegistry

log = logging.getLogger(__name__)
# A channel is degraded when at least this many recent attempts failed at this rate or more.
MIN_ATTEMPTS_FOR_RATE = 4
DEGRADED_FAILURE_RATE = 0.5


class ChannelHealth:
    """Keeps every channel's health current; never touches readiness (a provider outage is not ours)."""

    def __init__(
        self, db: Database, registry: ChannelRegistry, *, interval: float = 5.0, failure_window: float = 300.0
    ) -> None:
        self.db = db
        self.registry = registry
        self.interval = interval
        self.failure_window = timedelta(seconds=failure_window)
        self._down: dict[str, str] = {}
        self._degraded: dict[str, bool] = {}

    def mark_down(self, channel: str, dependency: str, reason: str) -> None:
        """A send found the channel broken (credentials, outage): degraded at once, before the next probe."""
        if channel not in self._down:
            log.error("notification channel %s failing: %s", channel, reason, extra={"channel": channel})
        self._down[channel] = reason
        NOTIFICATION_CHANNEL_DEGRADED.labels(channel).set(1)
        DEPENDENCY_UP.labels(dependency).set(0)

    def mark_ok(self, channel: str) -> None:
        """A send went through: a failure seen by sends alone is over."""
        self._down.pop(channel, None)

    async def run(self) -> None:
        while True:
            try:
                await self.probe_once()
            except Exception as err:
                log.warning("channel probes failed: %s", err)
            await asyncio.sleep(self.interval)

    async def probe_once(self) -> None:
        """Probe every enabled channel and record what was found."""
        adapters = await self.registry.all()
        results = await asyncio.gather(*(self._probe(a) for a in adapters))
        now = datetime.now(UTC)
        dependency_up: dict[str, int] = defaultdict(lambda: 1)
        async with self.db.transaction() as conn:
            for adapter, result in zip(adapters, results, strict=True):
                total, bad, failing = await repository.attempt_outcomes_since(
                    conn, channel=adapter.name, since=now - self.failure_window
                )
                rate = bad / total if total else 0.0
                if result.checked:
                    up, detail = result.up, result.detail
                    if up:
                        self._down.pop(adapter.name, None)
                else:
                    up = adapter.name not in self._down
                    detail = self._down.get(adapter.name, result.detail)
                # A high recent failure rate degrades the channel until its sends succeed again.
                degraded = not up or (failing and total >= MIN_ATTEMPTS_FOR_RATE and rate >= DEGRADED_FAILURE_RATE)
                if degraded and up:
                    detail = f"{bad} of {total} recent attempts failed"
                # Other roles read this: never a provider's answer verbatim, never a secret.
                detail = adapter.scrub(detail, 500)
                await config_repository.upsert_health(
                    conn, channel=adapter.name, up=up, degraded=degraded, detail=detail,
                    token_expires_at=result.token_expires_at, failure_rate=rate, at=now,
                )
                self._report(adapter, degraded, detail)
                dependency_up[adapter.dependency] = min(dependency_up[adapter.dependency], int(up))
                if result.token_expires_at is not None:
                    NOTIFICATION_TOKEN_EXPIRY.labels(adapter.name).set((result.token_expires_at - now).total_seconds())
        for dependency, value in dependency_up.items():
            DEPENDENCY_UP.labels(dependency).set(value)

    async def _probe(self, adapter: ProviderAdapter) -> ProbeResult:
        try:
            return await asyncio.wait_for(adapter.probe(), self.interval * 2)
        except TimeoutError:
            return ProbeResult(up=False, detail="probe timed out")
        except Exception as err:
            return ProbeResult(up=False, detail=f"probe failed: {type(err).__name__}")

    def _report(self, adapter: ProviderAdapter, degraded: bool, detail: str) -> None:
        NOTIFICATION_CHANNEL_DEGRADED.labels(adapter.name).set(int(degraded))
        if degraded != self._degraded.get(adapter.name, False):
            if degraded:
                log.error("notification channel %s degraded: %s", adapter.name, detail, extra={"channel": adapter.name})
            else:
                log.info("notification channel %s recovered", adapter.name, extra={"channel": adapter.name})
        self._degraded[adapter.name] = degraded
