"""The delivery loop: a continuous sender per busy customer queue, fed by claim rounds that record what came back."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import Row

from crm_common.db import Database
from crm_common.egress import EgressGuard, EgressRefused, GuardedClient, GuardedTransport
from crm_common.metrics import WEBHOOK_DELIVERIES
from integration_gateway.outbound import repository
from integration_gateway.outbound.domain import live_secrets, retry_after, retry_delay, signature
from integration_gateway.settings import IntegrationSettings

log = logging.getLogger(__name__)
USER_AGENT = "crm-integration-gateway/1"


class DeliveryDispatcher:
    """Claims due deliveries, sends them Standard-Webhooks-signed, and schedules retries or dead letters."""

    def __init__(self, db: Database, settings: IntegrationSettings, guard: EgressGuard) -> None:
        self.db = db
        self.schedule = list(settings.delivery_retry_schedule_seconds)
        self.timeout = settings.delivery_timeout_seconds
        self.batch = settings.delivery_batch
        self.poll = settings.delivery_poll_seconds
        self.max_retry_after = settings.delivery_max_retry_after_seconds
        # Longer than a send can take, so a lease never lapses under a delivery still in flight.
        self.lease = timedelta(seconds=settings.delivery_timeout_seconds * 2 + 5)
        # http_client's guarded transport and no-redirect client, with a pool that keeps a connection per busy
        # endpoint key alive (the default 20 kept-alive connections would reconnect for every delivery under load).
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
        self.client = GuardedClient(
            transport=GuardedTransport(guard, limits=limits), timeout=self.timeout, follow_redirects=False,
            trust_env=False,
        )
        self.wakeup = asyncio.Event()
        # In-process state of the continuous senders: one task and queue per busy (subscription, ordering key),
        # and what they finished, recorded by the next claim round.
        self.queues: dict[tuple[object, str], deque[Row]] = {}
        self.senders: dict[tuple[object, str], asyncio.Task[None]] = {}
        self.delivered: dict[object, int] = {}
        self.unsent: list[object] = []

    def wake(self) -> None:
        """New deliveries are queued (or a key's sender made progress): claim now rather than at the next poll."""
        self.wakeup.set()

    async def run(self) -> None:
        """Claim rounds until cancelled: each feeds the claimed deliveries to a continuous sender per busy key."""
        try:
            while True:
                # Cleared before the round, so a wake-up that comes during it is not lost.
                self.wakeup.clear()
                try:
                    claimed = await self.dispatch_once()
                except Exception as err:
                    log.warning("delivery round failed: %s", err)
                    claimed = 0
                if claimed >= self.batch:
                    continue
                try:
                    await asyncio.wait_for(self.wakeup.wait(), self.poll)
                except TimeoutError:
                    pass
        finally:
            for task in list(self.senders.values()):
                task.cancel()
            await asyncio.gather(*self.senders.values(), return_exceptions=True)
            await self.client.aclose()

    async def dispatch_once(self) -> int:
        """Record what the senders finished, claim what is due and hand it to its key's sender; returns how many."""
        delivered, self.delivered = self.delivered, {}
        unsent, self.unsent = self.unsent, []
        try:
            async with self.db.transaction() as conn:
                if delivered:
                    # One statement for every success since the last round: a commit each would be the bottleneck.
                    await repository.mark_succeeded(conn, delivered=delivered)  # type: ignore[arg-type]
                await repository.release(conn, delivery_ids=unsent)  # type: ignore[arg-type]
                # A key's later deliveries are claimable only once its earlier ones are recorded above (its
                # in-flight ones are leased), so a key is never in two senders, here or in another replica.
                due = await repository.claim_due(conn, limit=self.batch, lease=self.lease)
        except Exception:
            # Not recorded: kept for the next round (the leases hold the rows meanwhile).
            self.delivered = {**delivered, **self.delivered}
            self.unsent = unsent + self.unsent
            raise
        WEBHOOK_DELIVERIES.labels("succeeded").inc(len(delivered))
        for row in due:
            key = (row.subscription_id, row.ordering_key)
            self.queues.setdefault(key, deque()).append(row)
            if key not in self.senders:
                self.senders[key] = asyncio.create_task(self.drain(key))
        return len(due)

    async def drain(self, key: tuple[object, str]) -> None:
        """The sender of one key: its queued deliveries in order, each success handed to the next round at once."""
        queue = self.queues[key]
        try:
            while queue:
                row = queue.popleft()
                try:
                    code = await self.send(row)
                except Exception as err:
                    log.warning("delivery %s not attempted: %s", row.id, err)
                    code = None
                    self.unsent.append(row.id)
                if code is None:
                    # The rest wait behind the failed one, so the receiver still sees them in order.
                    self.unsent.extend(r.id for r in queue)
                    queue.clear()
                else:
                    self.delivered[row.id] = code
                self.wake()
        finally:
            del self.queues[key]
            del self.senders[key]

    async def send(self, row: Row) -> int | None:
        """One attempt of one delivery: the status code of a success (recorded by the caller), else None (recorded)."""
        now = datetime.now(UTC)
        secrets = live_secrets(
            secret=row.secret, previous=row.previous_secret, previous_until=row.previous_secret_until, now=now
        )
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "webhook-id": row.event_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": signature(secrets=secrets, webhook_id=row.event_id, at=now, body=row.body),
        }
        code, error, wait = 0, "", None
        try:
            response = await self.client.post(row.url, content=row.body.encode(), headers=headers)
            code = response.status_code
            if 200 <= code < 300:
                return code
            error = f"HTTP {code}"
            if code in (429, 503):
                wait = retry_after(response.headers.get("retry-after"), now=now, cap=self.max_retry_after)
        except EgressRefused as err:
            error = f"destination refused: {err}"
        except httpx.HTTPError as err:
            # The cause's type and text: whether the receiver was down, slow or refused by the guard.
            error = f"{type(err).__name__}: {err}"[:300]
        await self.record_failure(row, code=code, error=error, wait=wait, now=now)
        return None

    async def record_failure(self, row: Row, *, code: int, error: str, wait: float | None, now: datetime) -> None:
        async with self.db.transaction() as conn:
            if code == 410:
                await repository.mark_dead(conn, delivery_id=row.id, status_code=code, error="410 Gone: endpoint disabled")
                await repository.disable(conn, subscription_id=row.subscription_id, reason="the receiver answered 410 Gone")
                WEBHOOK_DELIVERIES.labels("gone").inc()
                return
            delay = retry_delay(row.attempts + 1, self.schedule)
            if delay is None:
                await repository.mark_dead(conn, delivery_id=row.id, status_code=code, error=error)
                WEBHOOK_DELIVERIES.labels("dead").inc()
                return
            # A receiver's Retry-After is honoured as asked (up to the cap), even when later than the schedule.
            delay = max(delay, wait) if wait is not None else delay
            await repository.mark_retry(
                conn, delivery_id=row.id, status_code=code, error=error, at=now + timedelta(seconds=delay)
            )
        WEBHOOK_DELIVERIES.labels("retried").inc()
        log.info("delivery %s attempt %d failed (%s); retry in %.1f s", row.id, row.attempts + 1, error, delay)
