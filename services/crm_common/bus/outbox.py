"""Transactional outbox: events are rows written with the change; a relay publishes them with Nats-Msg-Id."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from datetime import UTC, datetime

import psycopg
from google.protobuf.message import Message
from nats.js import JetStreamContext
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind
from sqlalchemy import Table, delete, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from crm_common.bus.catalog import EVENT_TYPES
from crm_common.db import Database
from crm_common.metrics import EVENTS_PUBLISHED, OUTBOX_LAG, OUTBOX_PENDING

log = logging.getLogger(__name__)
tracer = trace.get_tracer("crm.bus")
_NOTIFIED_KEY = "crm_outbox_notified"
# The outbox gauges cost a query; refresh them at most this often.
STATS_INTERVAL_SECONDS = 1.0


def notify_channel(schema: str) -> str:
    """The PostgreSQL NOTIFY channel that wakes a schema's relay when a transaction with events commits."""
    return f"crm_outbox_{schema}"


async def stage_event(
    conn: AsyncConnection, outbox: Table, subject: str, message: Message, *, event_id: str | None = None
) -> str:
    """Write an event in the caller's transaction; it is published only if that transaction commits."""
    if subject not in EVENT_TYPES or not isinstance(message, EVENT_TYPES[subject]):
        raise TypeError(f"{type(message).__name__} is not the payload of {subject}")
    event_id = event_id or str(uuid.uuid4())
    headers: dict[str, str] = {}
    propagate.inject(headers)
    await conn.execute(
        insert(outbox).values(event_id=event_id, subject=subject, payload=message.SerializeToString(), headers=headers)
    )
    # NOTIFY is delivered at commit only, so the relay never wakes for an event that is not there yet;
    # one per transaction is enough however many events it stages.
    transaction = conn.get_transaction()
    if conn.info.get(_NOTIFIED_KEY) is not transaction:
        await conn.execute(text("SELECT pg_notify(:ch, '')"), {"ch": notify_channel(outbox.schema or "public")})
        conn.info[_NOTIFIED_KEY] = transaction
    return event_id


class OutboxRelay:
    """Publishes committed outbox rows to JetStream in order, deleting each batch once JetStream acked it."""

    def __init__(
        self, *, db: Database, outbox: Table, js: JetStreamContext, libpq_url: str, poll_seconds: float = 0.5
    ) -> None:
        self.db = db
        self.outbox = outbox
        self.js = js
        self.libpq_url = libpq_url
        self.poll_seconds = poll_seconds
        self.batch_size = 256
        self._wake = asyncio.Event()
        self._stopping = False
        self._stats_at = float("-inf")

    async def run(self) -> None:
        """Relay until stopped; survives NATS and PostgreSQL outages by retrying with backoff."""
        listener = asyncio.create_task(self._listen(), name="outbox-listen")
        backoff = 0.1
        try:
            while not self._stopping:
                try:
                    published = await self.publish_batch()
                    backoff = 0.1
                except Exception as err:  # NATS or PostgreSQL unavailable: keep the rows, try again
                    log.warning("outbox relay failed, retrying in %.1fs: %s", backoff, err)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
                    continue
                if published < self.batch_size:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), timeout=self.poll_seconds)
                    self._wake.clear()
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    async def publish_batch(self) -> int:
        """Publish the oldest unpublished events (rows locked so replicas never publish the same batch)."""
        o = self.outbox
        async with self.db.transaction() as conn:
            rows = (
                await conn.execute(
                    select(o.c.seq, o.c.event_id, o.c.subject, o.c.payload, o.c.headers)
                    .order_by(o.c.seq)
                    .limit(self.batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if rows:
                await asyncio.gather(*(self._publish(r.event_id, r.subject, r.payload, r.headers) for r in rows))
                await conn.execute(delete(o).where(o.c.seq.in_([r.seq for r in rows])))
            now = asyncio.get_running_loop().time()
            if now - self._stats_at >= STATS_INTERVAL_SECONDS:
                self._stats_at = now
                stats = (await conn.execute(select(func.count(), func.min(o.c.created_at)))).one()
                OUTBOX_PENDING.set(max(stats[0] - len(rows), 0))
                oldest = stats[1]
                lag = (datetime.now(UTC) - oldest).total_seconds() if oldest and len(rows) < stats[0] else 0
                OUTBOX_LAG.set(lag)
        return len(rows)

    async def _publish(self, event_id: str, subject: str, payload: bytes, stored: dict[str, str]) -> None:
        parent = propagate.extract(stored)
        with tracer.start_as_current_span(
            f"publish {subject}",
            context=parent,
            kind=SpanKind.PRODUCER,
            attributes={
                "messaging.system": "nats",
                "messaging.destination.name": subject,
                "messaging.message.id": event_id,
                "messaging.operation.type": "publish",
            },
        ):
            headers = {"Nats-Msg-Id": event_id}
            propagate.inject(headers)
            await self.js.publish(subject, payload, headers=headers, timeout=5)
        EVENTS_PUBLISHED.labels(subject).inc()

    async def _listen(self) -> None:
        """LISTEN for commits that staged events; falls back to polling whenever the listener is down."""
        channel = notify_channel(self.outbox.schema or "public")
        while not self._stopping:
            try:
                async with await psycopg.AsyncConnection.connect(self.libpq_url, autocommit=True) as conn:
                    await conn.execute(f'LISTEN "{channel}"')
                    async for _ in conn.notifies():
                        self._wake.set()
            except asyncio.CancelledError:
                raise
            except Exception as err:
                log.debug("outbox listener reconnecting: %s", err)
                await asyncio.sleep(1.0)
