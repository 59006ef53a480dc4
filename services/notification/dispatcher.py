"""Sends queued deliveries to providers outside any transaction: record first, send, record the outcome.

Each delivery is marked `sending` (with a lease) and that record is committed BEFORE the provider is
called; the outcome is recorded after. A process that dies in between leaves a `sending` row whose
lease runs out, and the reconciler settles it: resent with the same key where the provider drops
duplicates, otherwise recorded as unconfirmed and not resent (at most once on that channel).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from crm.events.v1 import notification_events_pb2
from crm_common.db import Database
from crm_common.metrics import NOTIFICATION_DELIVERY, NOTIFICATIONS, observe_with_trace
from notification import config_repository, domain, intake, repository
from notification.channels import DeliveryFailed, DeliveryReport
from notification.delivery import Stage
from notification.health import ChannelHealth
from notification.providers.base import ProviderAdapter, ProviderMessage, RecipientAddress
from notification.registry import ChannelRegistry, rate_limit
from notification.settings import NotificationSettings

log = logging.getLogger(__name__)
RATE_WINDOW = timedelta(seconds=60)
# Items per digest: keeps a digest within chat apps' message size (WeCom text: 2048 bytes).
DIGEST_MAX = 20
Outcome = DeliveryReport | DeliveryFailed


@dataclass
class Send:
    """One provider call and the deliveries it covers (several when merged into a digest)."""

    adapter: ProviderAdapter
    message: ProviderMessage
    rows: list[Row]
    attempts: dict[uuid.UUID, int]


def address_of(recipient: Row | None, recipient_id: str) -> RecipientAddress:
    if recipient is None:
        return RecipientAddress(recipient_id=recipient_id)
    return RecipientAddress(
        recipient_id=recipient_id,
        name=recipient.name,
        wecom_user_id=recipient.wecom_user_id,
        mobile=recipient.mobile,
        email=recipient.email,
        dingtalk_mobile=recipient.dingtalk_mobile,
    )


def _timestamp(at: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(at)
    return ts


class Dispatcher:
    """The delivery queue's worker: safe to run in every replica (rows are claimed with SKIP LOCKED)."""

    def __init__(
        self,
        *,
        db: Database,
        stage: Stage,
        registry: ChannelRegistry,
        health: ChannelHealth,
        settings: NotificationSettings,
        on_committed: Callable[[], None] | None = None,
    ) -> None:
        self.db = db
        self.stage = stage
        self.registry = registry
        self.health = health
        self.settings = settings
        self.on_committed = on_committed
        self._calls = asyncio.Semaphore(settings.send_concurrency)
        self._wake = asyncio.Event()
        self._in_flight: set[asyncio.Task[None]] = set()

    def wake(self) -> None:
        """Look at the queue now (a consumer just queued something)."""
        self._wake.set()

    async def run(self) -> None:
        """Dispatch and reconcile until cancelled; database outages only delay deliveries."""
        loop = asyncio.get_running_loop()
        reconciled_at = float("-inf")
        idle_wait = self.settings.dispatch_interval_seconds
        while True:
            handled = 0
            # Cleared before the pass, so a wake-up during it is not lost.
            self._wake.clear()
            try:
                if len(self._in_flight) >= 2 * self.settings.send_concurrency:
                    # Enough calls under way: let some finish before claiming more.
                    await asyncio.wait(set(self._in_flight), return_when=asyncio.FIRST_COMPLETED)
                handled = await self.dispatch_once(wait=False)
                if loop.time() - reconciled_at >= self.settings.reconcile_interval_seconds:
                    reconciled_at = loop.time()
                    await self.reconcile_once()
            except Exception as err:
                log.warning("delivery dispatch failed, will retry: %s", err)
                await asyncio.sleep(1.0)
            if handled:
                idle_wait = self.settings.dispatch_interval_seconds
                continue
            try:
                await asyncio.wait_for(self._wake.wait(), idle_wait)
                idle_wait = self.settings.dispatch_interval_seconds
            except TimeoutError:
                idle_wait = min(idle_wait * 2, max(self.settings.dispatch_idle_max_seconds, idle_wait))

    async def dispatch_once(self, *, wait: bool = True) -> int:
        """Claim due deliveries and send them, each outcome recorded as its call returns; returns how many were due.

        With `wait`, returns once every outcome is recorded; without, the calls go on in the background.
        """
        now = datetime.now(UTC)
        sends: list[Send] = []
        async with self.db.transaction() as conn:
            rows = await repository.due_deliveries(conn, now=now, limit=self.settings.dispatch_batch)
            if not rows:
                return 0
            recipients = await config_repository.get_recipients(conn, recipient_ids=[r.recipient_id for r in rows])
            by_channel: dict[str, list[Row]] = defaultdict(list)
            for row in rows:
                by_channel[row.channel].append(row)
            for channel, items in by_channel.items():
                adapter = await self.registry.get(channel)
                if adapter is None:
                    failure = DeliveryFailed(f"channel {channel!r} is not configured or is disabled", permanent=True)
                    for row in items:
                        await self._settle(conn, row, failure, attempts=row.attempts, adapter=None, claimed=False, now=now)
                    continue
                groups: dict[str, list[tuple[Row, RecipientAddress]]] = {}
                for row in items:
                    address = address_of(recipients.get(row.recipient_id), row.recipient_id)
                    try:
                        target = adapter.target(address)
                    except DeliveryFailed as failure:
                        await self._settle(conn, row, failure, attempts=row.attempts, adapter=adapter, claimed=False, now=now)
                        continue
                    groups.setdefault(target, []).append((row, address))
                sends += await self._claim(conn, adapter, groups, now)
        tasks = [asyncio.create_task(self._send_and_record(send)) for send in sends]
        self._in_flight.update(tasks)
        for task in tasks:
            task.add_done_callback(self._in_flight.discard)
        if wait:
            await asyncio.gather(*tasks)
        return len(rows)

    async def _send_and_record(self, send: Send) -> None:
        """One provider call, then its outcome in a transaction of its own (a slow call holds up nobody else)."""
        outcome = await self._call(send)
        try:
            async with self.db.transaction() as conn:
                for row in send.rows:
                    await self._settle(
                        conn, row, outcome, attempts=send.attempts[row.id], adapter=send.adapter, claimed=True,
                        now=datetime.now(UTC),
                    )
        except Exception as err:
            # Left `sending`: the reconciler settles it when the lease runs out, as after a crash.
            log.warning("could not record the outcome of a send on %s: %s", send.adapter.name, err)
            return
        # A retry or the next channel of the chain may now be due soon: poll at full speed again.
        self.wake()
        if self.on_committed:
            self.on_committed()

    async def _claim(
        self, conn: AsyncConnection, adapter: ProviderAdapter, groups: Mapping[str, list[tuple[Row, RecipientAddress]]], now: datetime
    ) -> list[Send]:
        """Plan the calls within the channel's rate limit (overflow merged per target) and record them before sending."""
        limit = rate_limit(adapter)
        if not limit:
            batches = [[item] for group in groups.values() for item in group]
        else:
            # One replica at a time counts and books this channel's window.
            await repository.lock_channel_window(conn, channel=adapter.name)
            used, earliest = await repository.sends_since(conn, channel=adapter.name, since=now - RATE_WINDOW)
            budget = limit - used
            total = sum(len(g) for g in groups.values())
            if budget <= 0:
                batches = []
            elif total <= budget:
                batches = [[item] for group in groups.values() for item in group]
            else:
                # Overflow: each destination's messages merged into digests, as many as the window allows.
                batches = [group[i : i + DIGEST_MAX] for group in groups.values() for i in range(0, len(group), DIGEST_MAX)][:budget]
            planned = {row.id for batch in batches for row, _ in batch}
            held = [row.id for group in groups.values() for row, _ in group if row.id not in planned]
            if held:
                await repository.defer_deliveries(conn, delivery_ids=held, until=(earliest or now) + RATE_WINDOW)
            await repository.record_sends(conn, channel=adapter.name, count=len(batches), at=now)
        sends = []
        lease_until = now + timedelta(seconds=self.settings.send_lease_seconds)
        for batch in batches:
            digest_key = f"digest:{uuid.uuid4()}" if len(batch) > 1 else ""
            attempts: dict[uuid.UUID, int] = {}
            for row, _ in batch:
                attempts[row.id] = await repository.start_sending(
                    conn, delivery_id=row.id, lease_until=lease_until, digest_key=digest_key, now=now
                )
                detail = f"attempt {attempts[row.id]} on {row.channel}" + (f", in a digest of {len(batch)}" if digest_key else "")
                await repository.record_attempt(
                    conn, notification_id=row.notification_id, channel=row.channel, outcome="sending", detail=detail, at=now
                )
            sends.append(Send(adapter=adapter, message=_message(batch, digest_key), rows=[r for r, _ in batch], attempts=attempts))
        return sends

    async def _call(self, send: Send) -> Outcome:
        async with self._calls:
            try:
                report = await asyncio.wait_for(send.adapter.send(send.message), self.settings.provider_timeout_seconds * 3)
                return replace(report, detail=send.adapter.scrub(report.detail))
            except DeliveryFailed as failure:
                # Attempts, deliveries and channel health are read by other roles: no secret, nothing unbounded.
                failure.reason = send.adapter.scrub(failure.reason)
                return failure
            except TimeoutError:
                return DeliveryFailed("provider call timed out", permanent=False, uncertain=True, channel_down=True)
            except Exception as err:
                # The type only: provider errors can carry URLs with credentials in them.
                log.warning("unexpected %s sending on %s", type(err).__name__, send.adapter.name)
                return DeliveryFailed(f"unexpected error: {type(err).__name__}", permanent=False, uncertain=True)

    async def _settle(
        self,
        conn: AsyncConnection,
        row: Row,
        outcome: Outcome,
        *,
        attempts: int,
        adapter: ProviderAdapter | None,
        claimed: bool,
        now: datetime,
    ) -> None:
        """Record what a send did: delivered, retry later, unconfirmed, or move on down the fallback chain."""
        expected = ("sending",) if claimed else ("pending", "retrying")
        if isinstance(outcome, DeliveryReport):
            if not await repository.finish_delivery(conn, delivery_id=row.id, status=outcome.status, now=now, expected=expected):
                return
            await repository.settle_attempt(
                conn, notification_id=row.notification_id, channel=row.channel, outcome=outcome.status, detail=outcome.detail, at=now
            )
            await self._succeeded(conn, row, outcome, now)
            self.health.mark_ok(row.channel)
            return
        failure = outcome
        if failure.channel_down:
            self.health.mark_down(row.channel, adapter.dependency if adapter else row.channel, failure.reason)
        resendable = not failure.uncertain or bool(adapter and adapter.dedupes and not row.digest_key and claimed)
        if not failure.permanent and resendable and attempts < self.settings.max_attempts_per_channel:
            delay = domain.backoff_seconds(
                attempts, base=self.settings.retry_base_seconds, cap=self.settings.retry_cap_seconds, jitter=self.settings.retry_jitter
            )
            delay = max(delay, failure.retry_after or 0.0)
            if not await repository.finish_delivery(
                conn, delivery_id=row.id, status=domain.RETRYING, now=now, last_error=failure.reason,
                next_attempt_at=now + timedelta(seconds=delay), expected=expected,
            ):
                return
            await self._attempt(conn, row, "failed", f"{failure.reason}; retry in {delay:.1f} s", claimed=claimed, now=now)
            await repository.update_notification(
                conn, notification_id=row.notification_id, status=domain.RETRYING, reason=f"{row.channel}: {failure.reason}"
            )
            return
        if not failure.permanent and not resendable:
            if not await repository.finish_delivery(
                conn, delivery_id=row.id, status="uncertain", now=now, last_error=failure.reason, expected=expected
            ):
                return
            await self._attempt(conn, row, "uncertain", failure.reason, claimed=claimed, now=now)
            await repository.update_notification(
                conn,
                notification_id=row.notification_id,
                status=domain.SENT,
                reason=(
                    f"outcome unknown on {row.channel} ({failure.reason}); not resent: that channel cannot drop "
                    "a duplicate (at most once); the in-app inbox has a copy"
                ),
            )
            NOTIFICATIONS.labels(row.channel, "uncertain").inc()
            return
        if not await repository.finish_delivery(
            conn, delivery_id=row.id, status=domain.FAILED, now=now, last_error=failure.reason, expected=expected
        ):
            return
        await self._attempt(conn, row, "failed", failure.reason, claimed=claimed, now=now)
        NOTIFICATIONS.labels(row.channel, domain.FAILED).inc()
        await self._fall_back(conn, row, f"{row.channel}: {failure.reason}", now)

    async def _attempt(self, conn: AsyncConnection, row: Row, outcome: str, detail: str, *, claimed: bool, now: datetime) -> None:
        if claimed:
            await repository.settle_attempt(
                conn, notification_id=row.notification_id, channel=row.channel, outcome=outcome, detail=detail, at=now
            )
        else:
            await repository.record_attempt(
                conn, notification_id=row.notification_id, channel=row.channel, outcome=outcome, detail=detail, at=now
            )

    async def _succeeded(self, conn: AsyncConnection, row: Row, report: DeliveryReport, now: datetime) -> None:
        delivered = report.status == domain.DELIVERED
        await repository.update_notification(
            conn,
            notification_id=row.notification_id,
            status=report.status,
            channel=row.channel,
            reason="" if row.position == 0 else f"delivered through fallback channel {row.channel}",
            delivered_at=now if delivered else None,
        )
        NOTIFICATIONS.labels(row.channel, report.status).inc()
        if row.event_at is not None:
            observe_with_trace(NOTIFICATION_DELIVERY.labels(row.channel), (now - row.event_at).total_seconds())
        if delivered:
            await self.stage(
                conn,
                "crm.notification.delivered",
                notification_events_pb2.NotificationDelivered(
                    notification_id=str(row.notification_id),
                    lead_id=row.lead_id,
                    recipient_id=row.recipient_id,
                    channel=row.channel,
                    delivered_at=_timestamp(now),
                ),
            )

    async def _fall_back(self, conn: AsyncConnection, row: Row, reason: str, now: datetime) -> None:
        """Queue the next channel of the recipient's chain, or give up on every channel."""
        recipient = await config_repository.get_recipient(conn, recipient_id=row.recipient_id)
        tried = await repository.delivery_channels(conn, notification_id=row.notification_id)
        following = [c for c in intake.external_chain(recipient) if c not in tried]
        if following:
            await repository.insert_delivery(
                conn, notification_id=row.notification_id, channel=following[0], position=row.position + 1, next_attempt_at=now
            )
            await repository.update_notification(
                conn, notification_id=row.notification_id, status=domain.RETRYING, reason=f"{reason}; trying {following[0]}"
            )
            return
        notification = await repository.get_notification(conn, notification_id=row.notification_id)
        assert notification is not None
        await intake.fail_for_good(conn, notification, reason, stage=self.stage, channel=row.channel)

    async def reconcile_once(self) -> int:
        """Settle sends whose process died between the provider call and its record."""
        now = datetime.now(UTC)
        async with self.db.transaction() as conn:
            rows = await repository.expired_sends(conn, now=now, limit=self.settings.dispatch_batch)
            for row in rows:
                adapter = await self.registry.get(row.channel)
                reason = "the process stopped between the provider call and its record"
                if adapter is not None and adapter.dedupes and not row.digest_key:
                    await repository.finish_delivery(
                        conn, delivery_id=row.id, status=domain.RETRYING, now=now, last_error=reason, next_attempt_at=now
                    )
                    await repository.settle_attempt(
                        conn, notification_id=row.notification_id, channel=row.channel, outcome="unconfirmed",
                        detail=f"{reason}; resent with the same key, which {row.channel} drops if it has it",
                        at=now,
                    )
                    await repository.update_notification(conn, notification_id=row.notification_id, status=domain.RETRYING)
                else:
                    failure = DeliveryFailed(reason, permanent=False, uncertain=True)
                    await self._settle(conn, row, failure, attempts=row.attempts, adapter=adapter, claimed=True, now=now)
            await repository.prune_sends(conn, before=now - 2 * RATE_WINDOW)
        if rows:
            log.warning("reconciled %d sends left unrecorded by a stopped process", len(rows))
        return len(rows)


def _message(batch: Sequence[tuple[Row, RecipientAddress]], digest_key: str) -> ProviderMessage:
    """A single notification, or a digest of several for one target."""
    first, address = batch[0]
    if not digest_key:
        return ProviderMessage(
            send_key=first.send_key, recipient=address, title=first.title, body=first.body,
            notification_ids=(str(first.notification_id),),
        )
    same_person = all(a.recipient_id == address.recipient_id for _, a in batch)
    lines = [f"{i}. {row.title[:100]}" for i, (row, _) in enumerate(batch, 1)]
    return ProviderMessage(
        send_key=digest_key,
        recipient=address if same_person else RecipientAddress(recipient_id=""),
        title=f"{len(batch)} notifications (digest)",
        body="\n".join(lines) + "\nDetails are in each person's CRM inbox.",
        notification_ids=tuple(str(row.notification_id) for row, _ in batch),
    )
