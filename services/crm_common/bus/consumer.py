"""Idempotent durable pull consumers: inbox row and effect in one transaction, bounded redelivery, dead letters."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from google.protobuf.message import Message
from nats.aio.msg import Msg
from nats.js import JetStreamContext, api
from nats.js.errors import FetchTimeoutError
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from crm_common.bus.catalog import dead_letter_subject, decode, stream_of
from crm_common.db import Database
from crm_common.metrics import CONSUMER_PENDING, DEAD_LETTERS, EVENTS_CONSUMED

log = logging.getLogger(__name__)
EVENT_ID_HEADER = "Crm-Event-Id"
tracer = trace.get_tracer("crm.bus")


@dataclass(frozen=True)
class EventMeta:
    """What a handler may want besides the payload."""

    event_id: str
    subject: str
    published_at: datetime
    delivery: int


Handler = Callable[[AsyncConnection, Message, EventMeta], Awaitable[None]]


@dataclass(frozen=True)
class ConsumerSpec:
    """A durable consumer of one subject, handled by one function."""

    durable: str
    subject: str
    handler: Handler


class DurableConsumer:
    """Pulls a durable consumer's messages and applies each exactly once to the service's database."""

    def __init__(
        self,
        spec: ConsumerSpec,
        *,
        db: Database,
        inbox: Table,
        js: JetStreamContext,
        max_deliver: int,
        on_committed: Callable[[], None] | None = None,
    ) -> None:
        self.spec = spec
        self.db = db
        self.inbox = inbox
        self.js = js
        self.max_deliver = max_deliver
        self.on_committed = on_committed
        self._stopping = False
        self.batch = 64

    async def subscribe(self) -> JetStreamContext.PullSubscription:
        config = api.ConsumerConfig(
            durable_name=self.spec.durable,
            ack_policy=api.AckPolicy.EXPLICIT,
            deliver_policy=api.DeliverPolicy.ALL,
            max_deliver=self.max_deliver,
            ack_wait=30,
            max_ack_pending=2000,
            filter_subject=self.spec.subject,
        )
        return await self.js.pull_subscribe(
            self.spec.subject, durable=self.spec.durable, stream=stream_of(self.spec.subject), config=config
        )

    async def run(self) -> None:
        """Fetch and handle until stopped; outages of NATS or PostgreSQL only delay messages."""
        sub: JetStreamContext.PullSubscription | None = None
        last_stats = 0.0
        loop = asyncio.get_running_loop()
        while not self._stopping:
            try:
                if sub is None:
                    sub = await self.subscribe()
                msgs = await sub.fetch(self.batch, timeout=1.0)
            except (FetchTimeoutError, TimeoutError):
                msgs = []
            except Exception as err:
                log.warning("consumer %s cannot fetch: %s", self.spec.durable, err)
                sub = None
                await asyncio.sleep(1.0)
                continue
            if msgs:
                await asyncio.gather(*(self.handle(m) for m in msgs))
            if loop.time() - last_stats > 5 and sub is not None:
                last_stats = loop.time()
                try:
                    info = await sub.consumer_info()
                    CONSUMER_PENDING.labels(self.spec.durable).set(info.num_pending or 0)
                except Exception as err:
                    log.debug("consumer info unavailable: %s", err)
        if sub is not None:
            # Unsubscribing here keeps a later connection drain from waiting on this subscription.
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    def stop(self) -> None:
        self._stopping = True

    async def handle(self, msg: Msg) -> None:
        """Apply one message: skip it if the inbox has it, dead-letter it on its last failed delivery."""
        headers = dict(msg.headers or {})
        meta = msg.metadata
        # Crm-Event-Id survives a dead-letter replay, whose Nats-Msg-Id must be new for JetStream to take it.
        event_id = headers.get(EVENT_ID_HEADER) or headers.get("Nats-Msg-Id") or f"{meta.stream}:{meta.sequence.stream}"
        event = EventMeta(
            event_id=event_id,
            subject=msg.subject,
            published_at=meta.timestamp or datetime.now(UTC),
            delivery=meta.num_delivered or 1,
        )
        with tracer.start_as_current_span(
            f"process {msg.subject}",
            context=propagate.extract(headers),
            kind=SpanKind.CONSUMER,
            attributes={
                "messaging.system": "nats",
                "messaging.destination.name": msg.subject,
                "messaging.consumer.group.name": self.spec.durable,
                "messaging.message.id": event_id,
                "messaging.operation.type": "process",
            },
        ) as span:
            try:
                applied = await self._apply(msg, event)
                await msg.ack()
                EVENTS_CONSUMED.labels(self.spec.durable, "applied" if applied else "duplicate").inc()
                if applied and self.on_committed:
                    self.on_committed()
            except Exception as err:
                span.record_exception(err)
                span.set_status(Status(StatusCode.ERROR, str(err)))
                await self._failed(msg, headers, event, err)

    async def _apply(self, msg: Msg, event: EventMeta) -> bool:
        async with self.db.transaction() as conn:
            first = await conn.execute(
                insert(self.inbox)
                .values(consumer=self.spec.durable, event_id=event.event_id)
                .on_conflict_do_nothing()
                .returning(self.inbox.c.event_id)
            )
            if first.first() is None:
                return False
            await self.spec.handler(conn, decode(msg.subject, msg.data), event)
        return True

    async def _failed(self, msg: Msg, headers: dict[str, str], event: EventMeta, err: Exception) -> None:
        try:
            if event.delivery >= self.max_deliver:
                dlq_headers = {
                    **headers,
                    EVENT_ID_HEADER: event.event_id,
                    "Nats-Msg-Id": f"dlq:{self.spec.durable}:{event.event_id}",
                    "Crm-Original-Subject": msg.subject,
                    "Crm-Error": str(err)[:500],
                    "Crm-Deliveries": str(event.delivery),
                }
                await self.js.publish(dead_letter_subject(self.spec.durable), msg.data, headers=dlq_headers)
                await msg.term()
                DEAD_LETTERS.labels(self.spec.durable).inc()
                EVENTS_CONSUMED.labels(self.spec.durable, "dead_lettered").inc()
                log.error("event %s dead-lettered after %d deliveries: %s", event.event_id, event.delivery, err)
            else:
                await msg.nak(delay=min(0.5 * 2 ** (event.delivery - 1), 30.0))
                EVENTS_CONSUMED.labels(self.spec.durable, "retried").inc()
                log.warning("event %s failed (delivery %d), will retry: %s", event.event_id, event.delivery, err)
        except Exception as nested:  # NATS down: the ack wait expires and the message is redelivered
            log.warning("could not settle failed event %s: %s", event.event_id, nested)
