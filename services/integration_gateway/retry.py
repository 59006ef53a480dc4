"""The background job that captures webhooks the lead service could not take when they arrived."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from crm_common.errors import DomainError
from crm_common.service import Runtime
from integration_gateway import repository
from integration_gateway.capture import WebhookCapture
from integration_gateway.settings import IntegrationSettings

log = logging.getLogger(__name__)


class StalledReceiptRetrier:
    """Retries receipts left received (a crash mid-call) or failed (lead service down) until captured or rejected."""

    def __init__(self, runtime: Runtime, capture: WebhookCapture, settings: IntegrationSettings) -> None:
        self.runtime = runtime
        self.capture = capture
        self.older_than = timedelta(seconds=settings.webhook_retry_after_seconds)
        self.interval = settings.webhook_retry_interval_seconds
        self.batch = settings.webhook_retry_batch

    async def run(self) -> None:
        """Retry rounds until cancelled; a failing round (say, PostgreSQL down) only delays the next one."""
        while True:
            try:
                await self.retry_once()
            except Exception as err:
                log.warning("webhook retry round failed: %s", err)
            await asyncio.sleep(self.interval)

    async def retry_once(self) -> int:
        """One round: capture every stalled receipt claimed; returns how many got captured."""
        async with self.runtime.db.transaction() as conn:
            stalled = await repository.claim_stalled(conn, older_than=self.older_than, limit=self.batch)
        if not stalled:
            return 0
        results = await asyncio.gather(*(self.capture.capture(r, retry=True) for r in stalled), return_exceptions=True)
        captured = 0
        for receipt, result in zip(stalled, results, strict=True):
            if isinstance(result, DomainError):
                log.info("webhook %s still not captured: %s", receipt.id, result.message)
            elif isinstance(result, BaseException):
                log.error("webhook %s retry crashed: %s", receipt.id, result, exc_info=result)
            else:
                captured += 1
        log.info("retried %d stalled webhooks, %d captured", len(stalled), captured)
        return captured
