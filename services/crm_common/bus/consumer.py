"""Idempotent durable pull consumers: inbox row and effect in one transaction, bounded redelivery, dead letters."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from google.protobuf.message import Message
from nats.aio.msg import Msg
from nats.js import JetStreamContext, api
from nats.js.errors import NotFoundError
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.trace import SpanKind
from sqlalchemy import Table, TextClause, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection

from crm_common.bus.catalog import dead_letter_subject, decode, stream_of
from crm_common.bus.outage import is_infrastructure_failure
from crm_common.bus.outbox import OutboxRelay
from crm_common.bus.pull import PullFeed
from crm_common.bus.streams import DLQ_STREAM
from crm_common.db import Database
from crm_common.metrics import (
    CONSUMER_PAUSED,
    CONSUMER_PENDING,
    DEAD_LETTERS,
    DEAD_LETTERS_WAITING,
    EVENTS_CONSUMED,
    STREAM_USAGE,
)

log = logging.getLogger(__name__)
EVENT_ID_HEADER = "Crm-Event-Id"
tracer = trace.get_tracer("crm.bus")
# Messages fetched, and applied in one transaction, at most.
FETCH_BATCH = 64
_PREPARER = postgresql.dialect().identifier_preparer
_AFTER_COMMIT_KEY = "crm_consumer_after_commit"
# While paused for an outage: the longest wait between two attempts (well under the ack wait, as each attempt
# also tells the server the held messages are still in progress), and how many events' failure counts are kept.
PAUSE_MAX_SECONDS = 5.0
_FAILURES_KEPT = 10_000


def after_commit(conn: AsyncConnection, callback: Callable[[], None]) -> None:
    """Run `callback` once the consumer's transaction on `conn` has committed (never if it rolls back).

    For what must not happen twice when a batch rolls back and runs again (metrics, wake-ups of
    other loops). Outside a consumer's transaction the callback runs at once.
    """
    hooks = conn.info.get(_AFTER_COMMIT_KEY)
    if hooks is None:
        callback()
    else:
        hooks.append(callback)


@dataclass(frozen=True)
class EventMeta:
    """What a handler may want besides the payload."""

    event_id: str
    subject: str
    published_at: datetime
    delivery: int


Handler = Callable[[AsyncConnection, Message, EventMeta], Awaitable[None]]
BatchHandler = Callable[[AsyncConnection, Sequence[tuple[Message, EventMeta]]], Awaitable[None]]


@dataclass(frozen=True)
class ConsumerSpec:
    """A durable consumer of one subject, handled by one function.

    The handler may run in a transaction shared with other messages of the same fetch, and may run
    again if that transaction rolls back, so its effects must stay inside `conn`. `order_by`, when
    given, applies a batch sorted by that key (stable), so that consumers whose handlers lock the
    same rows (say, one row per lead) take those locks in one order and never deadlock each other.
    `linger_seconds` lets messages gather for that long after a batch that was not full, so a steady
    trickle is applied in batches (one transaction for several): for consumers where a little delay
    costs nothing, such as projections.

    `batch_handler`, when given, applies the new events of a batch of several at once, in the batch's
    order (say, in one multi-row statement); it must leave what `handler` would leave, applied to each
    event in turn. If it raises, the batch rolls back and its messages are applied one at a time with
    `handler`, so a failure is still pinned on the one message that caused it.
    """

    durable: str
    subject: str
    handler: Handler
    order_by: Callable[[Message], str] | None = None
    linger_seconds: float = 0.0
    batch_handler: BatchHandler | None = None


@dataclass
class _Delivery:
    """One fetched message with what the consumer read from it."""

    msg: Msg
    headers: dict[str, str]
    event: EventMeta
    message: Message | None = None


class _Outage(Exception):
    """A dependency is away: these deliveries are still to be applied, and none of them is to blame."""

    def __init__(self, deliveries: Sequence[_Delivery], error: Exception) -> None:
        super().__init__(str(error))
        self.deliveries = list(deliveries)
        self.error = error


class _HandlerFailed(Exception):
    """A handler raised: which message of the batch it was, and why."""

    def __init__(self, delivery: _Delivery, error: Exception) -> None:
        super().__init__(str(error))
        self.delivery = delivery
        self.error = error


@lru_cache(maxsize=64)
def _record_statement(inbox: Table) -> TextClause:
    """Record a batch's event ids in the inbox at once; returns the ids that were not there yet."""
    return text(
        f"INSERT INTO {_PREPARER.format_table(inbox)} (consumer, event_id) "
        "SELECT :consumer, unnest(CAST(:event_ids AS text[])) ON CONFLICT DO NOTHING RETURNING event_id"
    )


class DurableConsumer:
    """Pulls a durable consumer's messages and applies each exactly once to the service's database.

    Messages come through a PullFeed (one pull request kept open, not one per batch). A batch of up to
    64 is applied in one transaction (one inbox statement, one commit) and acked after the commit. If a
    handler raises, the batch rolls back, that message alone is retried with backoff
    (or dead-lettered on its last delivery) and the others are applied again without it.

    A failure of the infrastructure (PostgreSQL, NATS or a peer service away: see `is_infrastructure_failure`)
    is no message's fault: the consumer pauses, keeps the messages it holds (telling the server they are in
    progress, which spends no delivery) and tries them again until the dependency is back. Only failures of a
    message on its own count against `max_deliver`; they are counted here, not by the server (whose
    redeliveries after an outage would otherwise spend the budget), so with several replicas a poison message
    may be tried up to `max_deliver` times by each before it is dead-lettered.
    `on_committed` (the relay's wake-up) runs after a commit whose handlers staged events, and only then.
    """

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
        self._feed: PullFeed | None = None
        self._failures: OrderedDict[str, int] = OrderedDict()  # event id -> failures of its own so far
        self.paused = False
        self.batch = FETCH_BATCH
        self._record = _record_statement(inbox)
        self._counted = {
            outcome: EVENTS_CONSUMED.labels(spec.durable, outcome)
            for outcome in ("applied", "duplicate", "retried", "dead_lettered")
        }

    def _config(self) -> api.ConsumerConfig:
        return api.ConsumerConfig(
            durable_name=self.spec.durable,
            ack_policy=api.AckPolicy.EXPLICIT,
            deliver_policy=api.DeliverPolicy.ALL,
            max_deliver=-1,  # the budget is counted by the consumer, over failures of the message's own only
            ack_wait=30,
            max_ack_pending=2000,
            filter_subject=self.spec.subject,
        )

    async def subscribe(self) -> JetStreamContext.PullSubscription:
        """The durable consumer (created if missing) as a pull subscription of one's own."""
        return await self.js.pull_subscribe(
            self.spec.subject, durable=self.spec.durable, stream=stream_of(self.spec.subject), config=self._config()
        )

    async def _open_feed(self) -> PullFeed:
        """The durable consumer (created if missing, as `subscribe` does) and a feed of its messages."""
        stream = stream_of(self.spec.subject)
        try:
            info = await self.js.consumer_info(stream, self.spec.durable)
        except NotFoundError:
            await self.js.add_consumer(stream, config=self._config())
        else:
            if info.config.max_deliver not in (None, -1):
                # Declared by an earlier version with the server counting deliveries: outages would spend them.
                try:
                    await self.js.add_consumer(stream, config=self._config())
                except Exception as err:
                    log.warning("consumer %s keeps max_deliver=%s: %s", self.spec.durable, info.config.max_deliver, err)
        feed = PullFeed(self.js, stream=stream, durable=self.spec.durable, batch=self.batch)
        await feed.open()
        return feed

    async def run(self) -> None:
        """Take and handle until stopped; outages of NATS or PostgreSQL only delay messages."""
        feed: PullFeed | None = None
        last_stats = 0.0
        loop = asyncio.get_running_loop()
        stream = stream_of(self.spec.subject)
        while not self._stopping:
            try:
                if feed is None:
                    feed = self._feed = await self._open_feed()
                msgs = await feed.take(self.batch, wait=1.0)
            except Exception as err:
                log.warning("consumer %s cannot fetch: %s", self.spec.durable, err)
                if feed is not None:
                    with contextlib.suppress(Exception):
                        await feed.close()
                    feed = self._feed = None
                await asyncio.sleep(1.0)
                continue
            if msgs:
                await self.handle_batch(msgs)
                if self.spec.linger_seconds and len(msgs) < self.batch and not self._stopping:
                    await asyncio.sleep(self.spec.linger_seconds)
            if loop.time() - last_stats > 5:
                last_stats = loop.time()
                try:
                    await self._report(stream)
                except Exception as err:
                    log.debug("consumer info unavailable: %s", err)
        if feed is not None:
            # Closing here keeps a later connection drain from waiting on this subscription.
            with contextlib.suppress(Exception):
                await feed.close()

    def stop(self) -> None:
        self._stopping = True

    async def _report(self, stream: str) -> None:
        """Gauges for the alerts: messages not yet received, dead letters waiting, how full the streams are."""
        info = await self.js.consumer_info(stream, self.spec.durable)
        CONSUMER_PENDING.labels(self.spec.durable).set(info.num_pending or 0)
        dlq = await self.js.stream_info(DLQ_STREAM, subjects_filter=dead_letter_subject(self.spec.durable))
        DEAD_LETTERS_WAITING.labels(self.spec.durable).set(sum((dlq.state.subjects or {}).values()))
        for name, state in ((stream, await self.js.stream_info(stream)), (DLQ_STREAM, dlq)):
            limit = state.config.max_bytes or -1
            STREAM_USAGE.labels(name).set(state.state.bytes / limit if limit > 0 else 0.0)

    def _set_paused(self, paused: bool) -> None:
        if paused != self.paused:
            self.paused = paused
            CONSUMER_PAUSED.labels(self.spec.durable).set(1 if paused else 0)

    async def handle(self, msg: Msg) -> None:
        """Apply one message: skip it if the inbox has it, dead-letter it on its last failed delivery."""
        await self.handle_batch([msg])

    async def handle_batch(self, msgs: Sequence[Msg]) -> None:
        """Apply fetched messages in one transaction; a failure rolls it back and isolates the failing one.

        While a dependency is away it pauses here, holding the messages, until they are applied or it is stopped.
        """
        deliveries = [self._delivery(msg) for msg in msgs]
        attempt = 0
        while deliveries:
            try:
                await self._handle(deliveries)
                break
            except _Outage as outage:
                deliveries = outage.deliveries
                if not self.paused:
                    log.warning("consumer %s paused: %s", self.spec.durable, outage.error)
                self._set_paused(True)
                if self._stopping:
                    return  # not settled: the server redelivers them after the ack wait
                attempt += 1
                await self._hold(deliveries, min(0.25 * 2**attempt, PAUSE_MAX_SECONDS))
        if self.paused:
            log.warning("consumer %s resumed after %d attempts", self.spec.durable, attempt + 1)
            self._set_paused(False)

    async def _hold(self, deliveries: Sequence[_Delivery], seconds: float) -> None:
        """Wait, keeping the held messages (and those already fetched behind them) from being redelivered."""
        held = [d.msg for d in deliveries] + (self._feed.queued() if self._feed is not None else [])
        for msg in held:
            try:
                await msg.in_progress()
            except Exception as err:  # NATS away too: after the ack wait they are redelivered, and skipped if applied
                log.debug("could not extend the ack wait: %s", err)
                break
        await asyncio.sleep(seconds)

    async def _handle(self, deliveries: list[_Delivery]) -> None:
        try:
            applied = await self._apply(deliveries)
        except _HandlerFailed as failed:
            if is_infrastructure_failure(failed.error):
                raise _Outage(deliveries, failed.error) from failed.error
            # Retried or dead-lettered without running again; the others go on without it.
            await self._failed(failed.delivery, failed.error)
            rest = [d for d in deliveries if d is not failed.delivery]
            if rest:
                await self._handle(rest)
            return
        except Exception as err:  # the inbox or the commit: no one message to blame
            if is_infrastructure_failure(err):
                raise _Outage(deliveries, err) from err
            if len(deliveries) == 1:
                await self._failed(deliveries[0], err)
                return
            log.info("consumer %s: a batch of %d failed (%s); one by one", self.spec.durable, len(deliveries), err)
            for index, delivery in enumerate(deliveries):
                try:
                    await self._handle([delivery])
                except _Outage as outage:
                    raise _Outage(deliveries[index:], outage.error) from outage.error
            return
        for delivery in deliveries:
            self._failures.pop(delivery.event.event_id, None)
        await self._settled(deliveries, applied)

    async def _settled(self, deliveries: Sequence[_Delivery], applied: int) -> None:
        """After the commit: ack every message (a lost ack only means a redelivery the inbox skips)."""
        for delivery in deliveries:
            try:
                await self._ack(delivery.msg)
            except Exception as err:  # NATS away: the message comes back after the ack wait and is skipped
                log.warning("could not ack event %s: %s", delivery.event.event_id, err)
        if applied:
            self._counted["applied"].inc(applied)
        if len(deliveries) > applied:
            self._counted["duplicate"].inc(len(deliveries) - applied)

    async def _ack(self, msg: Msg) -> None:
        await msg.ack()

    def _delivery(self, msg: Msg) -> _Delivery:
        headers = dict(msg.headers or {})
        meta = msg.metadata
        # Crm-Event-Id survives a dead-letter replay, whose Nats-Msg-Id must be new for JetStream to take it.
        event_id = headers.get(EVENT_ID_HEADER) or headers.get("Nats-Msg-Id") or f"{meta.stream}:{meta.sequence.stream}"
        event = EventMeta(
            event_id=event_id,
            subject=msg.subject,
            published_at=meta.timestamp or datetime.now(UTC),
            # The attempt by the budget's count: deliveries after an outage or a restart are not the message's doing.
            delivery=self._failures.get(event_id, 0) + 1,
        )
        return _Delivery(msg=msg, headers=headers, event=event)

    async def _apply(self, deliveries: Sequence[_Delivery]) -> int:
        """Record the events in the inbox and run the handler for each one new to it; returns how many ran."""
        hooks: list[Callable[[], None]] = []
        # The batch's own connection and statements belong to no lead's trace: not traced (each would be
        # a root span); the handlers run in their message's trace (see _run_handler).
        with suppress_instrumentation():
            async with self.db.transaction() as conn:
                conn.info[_AFTER_COMMIT_KEY] = hooks
                try:
                    ran = await self._apply_in(conn, deliveries)
                finally:
                    conn.info.pop(_AFTER_COMMIT_KEY, None)
        for hook in hooks:
            try:
                hook()
            except Exception as err:  # the effect is committed; a failing hook must not make it look failed
                log.warning("after-commit hook of %s failed: %s", self.spec.durable, err)
        return ran

    async def _apply_in(self, conn: AsyncConnection, deliveries: Sequence[_Delivery]) -> int:
        fresh = set(
            (
                await conn.execute(
                    self._record, {"consumer": self.spec.durable, "event_ids": [d.event.event_id for d in deliveries]}
                )
            ).scalars()
        )
        todo = []
        for delivery in deliveries:
            # A message twice in one batch (a replay next to a redelivery) runs once.
            if delivery.event.event_id in fresh:
                fresh.discard(delivery.event.event_id)
                delivery.message = decode(delivery.msg.subject, delivery.msg.data)
                todo.append(delivery)
        if self.spec.order_by is not None:
            order_by = self.spec.order_by
            todo.sort(key=lambda d: order_by(d.message))  # type: ignore[arg-type]
        if self.spec.batch_handler is not None and len(todo) > 1:
            # Not a _HandlerFailed: no one message to blame, so _handle applies them one by one.
            await self._run_batch_handler(conn, todo)
        else:
            for delivery in todo:
                try:
                    await self._run_handler(conn, delivery)
                except Exception as err:
                    raise _HandlerFailed(delivery, err) from err
        # Most handlers stage nothing: waking the relay for them would cost it an empty pass per batch.
        if self.on_committed is not None and OutboxRelay.staged_in(conn):
            after_commit(conn, self.on_committed)
        return len(todo)

    def _span_attributes(self, delivery: _Delivery) -> dict[str, str]:
        return {
            "messaging.system": "nats",
            "messaging.destination.name": delivery.msg.subject,
            "messaging.consumer.group.name": self.spec.durable,
            "messaging.message.id": delivery.event.event_id,
            "messaging.operation.type": "process",
        }

    async def _run_handler(self, conn: AsyncConnection, delivery: _Delivery) -> None:
        """The handler inside a consumer span, a child of the span that published the event."""
        with tracer.start_as_current_span(
            f"process {delivery.msg.subject}",
            # From the headers alone: the batch's context (instrumentation suppressed) is not the handler's.
            context=propagate.extract(delivery.headers, context=Context()),
            kind=SpanKind.CONSUMER,
            attributes=self._span_attributes(delivery),
        ):
            assert delivery.message is not None
            await self.spec.handler(conn, delivery.message, delivery.event)

    async def _run_batch_handler(self, conn: AsyncConnection, deliveries: Sequence[_Delivery]) -> None:
        """The batch handler, with each message's consumer span in its own trace.

        Its statements serve many traces at once, so they belong to none: they run untraced, like the inbox's.
        """
        spans = [
            tracer.start_span(
                f"process {delivery.msg.subject}",
                context=propagate.extract(delivery.headers, context=Context()),
                kind=SpanKind.CONSUMER,
                attributes=self._span_attributes(delivery),
            )
            for delivery in deliveries
        ]
        try:
            assert self.spec.batch_handler is not None
            await self.spec.batch_handler(conn, [(d.message, d.event) for d in deliveries])  # type: ignore[misc]
        except Exception as err:
            for span in spans:
                span.set_status(trace.Status(trace.StatusCode.ERROR, str(err)))
            raise
        finally:
            for span in spans:
                span.end()

    async def _failed(self, delivery: _Delivery, err: Exception) -> None:
        """A failure of the message's own: retried after a backoff, or dead-lettered once its budget is spent."""
        msg, event = delivery.msg, delivery.event
        failures = self._failures.pop(event.event_id, 0) + 1
        self._failures[event.event_id] = failures
        while len(self._failures) > _FAILURES_KEPT:
            self._failures.popitem(last=False)
        try:
            if failures >= self.max_deliver:
                dlq_headers = {
                    **delivery.headers,
                    EVENT_ID_HEADER: event.event_id,
                    "Nats-Msg-Id": f"dlq:{self.spec.durable}:{event.event_id}",
                    "Crm-Original-Subject": msg.subject,
                    "Crm-Error": str(err)[:500],
                    "Crm-Deliveries": str(failures),
                }
                await self.js.publish(dead_letter_subject(self.spec.durable), msg.data, headers=dlq_headers)
                await msg.term()
                self._failures.pop(event.event_id, None)
                DEAD_LETTERS.labels(self.spec.durable).inc()
                self._counted["dead_lettered"].inc()
                log.error("event %s dead-lettered after %d deliveries: %s", event.event_id, event.delivery, err)
            else:
                await msg.nak(delay=min(0.5 * 2 ** (failures - 1), 30.0))
                self._counted["retried"].inc()
                log.warning("event %s failed (attempt %d), will retry: %s", event.event_id, failures, err)
        except Exception as nested:  # NATS down: the ack wait expires and the message is redelivered
            log.warning("could not settle failed event %s: %s", event.event_id, nested)
