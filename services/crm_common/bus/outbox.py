"""Transactional outbox: events are rows written with the change; a relay publishes them with Nats-Msg-Id."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections import Counter, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import psycopg
from google.protobuf.message import Message
from nats.js import JetStreamContext
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.trace import SpanKind
from sqlalchemy import LargeBinary, Table, Text, TextClause, bindparam, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import BindParameter

from crm_common.bus.catalog import EVENT_TYPES
from crm_common.db import Database
from crm_common.metrics import EVENTS_PUBLISHED, OUTBOX_LAG, OUTBOX_PENDING

log = logging.getLogger(__name__)
tracer = trace.get_tracer("crm.bus")
_NOTIFIED_KEY = "crm_outbox_notified"
# The outbox gauges cost a query; refresh them at most this often.
STATS_INTERVAL_SECONDS = 1.0
# While LISTEN is up every commit wakes the relay; polling is then only a safety net and runs this seldom.
LISTENING_POLL_SECONDS = 5.0
# How many recently published event ids the relay remembers, to skip the NOTIFY of a commit it already relayed.
RECENT_EVENT_IDS = 4096
_PREPARER = postgresql.dialect().identifier_preparer


def notify_channel(schema: str) -> str:
    """The PostgreSQL NOTIFY channel that wakes a schema's relay when a transaction with events commits."""
    return f"crm_outbox_{schema}"


@lru_cache(maxsize=64)
def _statements(outbox: Table) -> dict[str, TextClause]:
    """The relay's and stager's SQL for one outbox table, as text: parsed and compiled once per process.

    Plain SQL because these run for every event; the NOTIFY rides on the first INSERT of a transaction
    (one round trip, not two), and the relay claims and deletes its batch in one statement.
    """
    table = _PREPARER.format_table(outbox)
    columns = "event_id, subject, payload, headers"
    typed = (bindparam("payload", type_=LargeBinary), bindparam("headers", type_=JSONB))
    return {
        "stage": text(
            f"INSERT INTO {table} ({columns}) VALUES (:event_id, :subject, :payload, :headers)"
        ).bindparams(*typed),
        "stage_and_notify": text(
            f"INSERT INTO {table} ({columns}) SELECT :event_id, :subject, :payload, :headers "
            "FROM pg_notify(:channel, :event_id)"
        ).bindparams(*typed),
        # Rows locked by another replica's claim are skipped; a rollback (publish failed) puts them back.
        "claim": text(
            f"DELETE FROM {table} WHERE seq IN "
            f"(SELECT seq FROM {table} ORDER BY seq LIMIT :limit FOR UPDATE SKIP LOCKED) "
            "RETURNING seq, event_id, subject, payload, headers"
        ),
        "stats": text(f"SELECT count(*), min(created_at) FROM {table}"),
    }


async def stage_event(
    conn: AsyncConnection, outbox: Table, subject: str, message: Message, *, event_id: str | None = None
) -> str:
    """Write an event in the caller's transaction; it is published only if that transaction commits."""
    if subject not in EVENT_TYPES or not isinstance(message, EVENT_TYPES[subject]):
        raise TypeError(f"{type(message).__name__} is not the payload of {subject}")
    event_id = event_id or str(uuid.uuid4())
    headers: dict[str, str] = {}
    propagate.inject(headers)
    values = {"event_id": event_id, "subject": subject, "payload": message.SerializeToString(), "headers": headers}
    # NOTIFY is delivered at commit only, so the relay never wakes for an event that is not there yet;
    # one per transaction is enough however many events it stages. Its payload names the transaction's
    # first event, so a relay that already published that event can skip the wake-up.
    transaction = conn.get_transaction()
    statements = _statements(outbox)
    if conn.info.get(_NOTIFIED_KEY) is not transaction:
        values["channel"] = notify_channel(outbox.schema or "public")
        await conn.execute(statements["stage_and_notify"], values)
        conn.info[_NOTIFIED_KEY] = transaction
    else:
        await conn.execute(statements["stage"], values)
    return event_id


@dataclass(frozen=True)
class RidingEvents:
    """Events to be written by a CTE of one of the caller's own statements: no round trip of their own.

    outbox: the table they go to. notify: this is the transaction's first staging, so the CTE also sends its
    NOTIFY (events_cte(notify=...)). params: the CTE's parameters, to merge into the statement's.
    """

    outbox: Table
    notify: bool
    params: dict[str, Any]


def riding_events(conn: AsyncConnection, outbox: Table, events: Sequence[tuple[str, Message]]) -> RidingEvents:
    """What events_cte needs to write these events (in order) with the caller's statement.

    The same checks as stage_event. Call events_written(conn) once the statement ran, so that later stagings of
    the transaction do not send the NOTIFY again.
    """
    for subject, message in events:
        if subject not in EVENT_TYPES or not isinstance(message, EVENT_TYPES[subject]):
            raise TypeError(f"{type(message).__name__} is not the payload of {subject}")
    headers: dict[str, str] = {}
    propagate.inject(headers)
    encoded = json.dumps(headers)
    ids = [str(uuid.uuid4()) for _ in events]
    params: dict[str, Any] = {
        "ev_ids": ids,
        "ev_subjects": [subject for subject, _ in events],
        "ev_payloads": [message.SerializeToString() for _, message in events],
        "ev_headers": [encoded] * len(events),
    }
    notify = bool(events) and conn.info.get(_NOTIFIED_KEY) is not conn.get_transaction()
    if notify:
        params.update(ev_channel=notify_channel(outbox.schema or "public"), ev_first=ids[0])
    return RidingEvents(outbox, notify, params)


def events_written(conn: AsyncConnection, riding: RidingEvents) -> None:
    """Record that the statement carrying riding_events ran (its NOTIFY, if any, is sent at commit)."""
    if riding.notify:
        conn.info[_NOTIFIED_KEY] = conn.get_transaction()


@lru_cache(maxsize=256)
def events_cte(outbox: Table, *, notify: bool, when: str | None = None, name: str = "staged_events") -> str:
    """SQL of a CTE named `name` that inserts riding_events' events into the outbox, in their order.

    when: the name of another CTE of the statement; the events are written only if it produced a row (the
    change they announce happened). Use with events_cte_params for the statement's bindparams.
    """
    table = _PREPARER.format_table(outbox)
    sources = [
        "unnest(CAST(:ev_ids AS text[]), CAST(:ev_subjects AS text[]), CAST(:ev_payloads AS bytea[]), "
        "CAST(:ev_headers AS text[])) AS e(event_id, subject, payload, headers)"
    ]
    if notify:
        sources.append("pg_notify(:ev_channel, :ev_first)")
    condition = f" WHERE EXISTS (SELECT 1 FROM {when})" if when else ""
    return (
        f"{name} AS (INSERT INTO {table} (event_id, subject, payload, headers) "
        f"SELECT e.event_id, e.subject, e.payload, CAST(e.headers AS jsonb) FROM {', '.join(sources)}{condition})"
    )


def events_cte_params(*, notify: bool) -> tuple[BindParameter[Any], ...]:
    """The bindparams of events_cte, for TextClause.bindparams."""
    params = (
        bindparam("ev_ids", type_=ARRAY(Text)),
        bindparam("ev_subjects", type_=ARRAY(Text)),
        bindparam("ev_payloads", type_=ARRAY(LargeBinary)),
        bindparam("ev_headers", type_=ARRAY(Text)),
    )
    return (*params, bindparam("ev_channel", type_=Text), bindparam("ev_first", type_=Text)) if notify else params


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
        self._statements = _statements(outbox)
        self._recent: set[str] = set()
        self._recent_order: deque[str] = deque()
        self._listening = False
        # Commits heard of while a pass runs: the pass may publish their events itself (see _relay_pass).
        self._passing = False
        self._heard: set[str] = set()

    async def run(self) -> None:
        """Relay until stopped; survives NATS and PostgreSQL outages by retrying with backoff."""
        listener = asyncio.create_task(self._listen(), name="outbox-listen")
        backoff = 0.1
        try:
            while not self._stopping:
                try:
                    published = await self._relay_pass()
                    backoff = 0.1
                except Exception as err:  # NATS or PostgreSQL unavailable: keep the rows, try again
                    log.warning("outbox relay failed, retrying in %.1fs: %s", backoff, err)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
                    continue
                if published < self.batch_size:
                    poll = max(self.poll_seconds, LISTENING_POLL_SECONDS) if self._listening else self.poll_seconds
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), timeout=poll)
                    self._wake.clear()
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener

    async def _relay_pass(self) -> int:
        """One batch; a commit heard of meanwhile asks for another pass only if this one missed its events."""
        self._passing = True
        try:
            return await self.publish_batch()
        finally:
            self._passing = False
            if any(event_id not in self._recent for event_id in self._heard):
                self._wake.set()
            self._heard.clear()

    @property
    def listening(self) -> bool:
        """Whether commits wake this relay (LISTEN is up); otherwise it polls every `poll_seconds`."""
        return self._listening

    @staticmethod
    def staged_in(conn: AsyncConnection) -> bool:
        """Whether the transaction open on `conn` staged events, so that its commit gives a relay work."""
        return conn.info.get(_NOTIFIED_KEY) is conn.get_transaction()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    async def publish_batch(self) -> int:
        """Publish the oldest unpublished events (rows locked so replicas never publish the same batch)."""
        statements = self._statements
        # The relay's connection and statements would each be a root span of a trace of their own: not traced.
        with suppress_instrumentation():
            async with self.db.transaction() as conn:
                rows = (await conn.execute(statements["claim"], {"limit": self.batch_size})).all()
                if rows:
                    rows.sort(key=lambda r: r.seq)
                    await asyncio.gather(*(self._publish(r.event_id, r.subject, r.payload, r.headers) for r in rows))
                now = asyncio.get_running_loop().time()
                if now - self._stats_at >= STATS_INTERVAL_SECONDS:
                    self._stats_at = now
                    pending, oldest = (await conn.execute(statements["stats"])).one()
                    # The claimed rows are deleted in this transaction: what is left is what waits.
                    OUTBOX_PENDING.set(pending)
                    OUTBOX_LAG.set((datetime.now(UTC) - oldest).total_seconds() if oldest else 0)
        if rows:
            self._remember(r.event_id for r in rows)
            for subject, count in Counter(r.subject for r in rows).items():
                EVENTS_PUBLISHED.labels(subject).inc(count)
        return len(rows)

    async def _publish(self, event_id: str, subject: str, payload: bytes, stored: dict[str, str]) -> None:
        span = tracer.start_span(
            f"publish {subject}",
            context=propagate.extract(stored, context=Context()),
            kind=SpanKind.PRODUCER,
            attributes={
                "messaging.system": "nats",
                "messaging.destination.name": subject,
                "messaging.message.id": event_id,
                "messaging.operation.type": "publish",
            },
        )
        try:
            headers = {"Nats-Msg-Id": event_id}
            propagate.inject(headers, context=trace.set_span_in_context(span))
            await self.js.publish(subject, payload, headers=headers, timeout=5)
        except Exception as err:
            span.record_exception(err)
            span.set_status(trace.Status(trace.StatusCode.ERROR, str(err)))
            raise
        finally:
            span.end()

    def _remember(self, event_ids: Iterable[str]) -> None:
        for event_id in event_ids:
            self._recent.add(event_id)
            self._recent_order.append(event_id)
        while len(self._recent_order) > RECENT_EVENT_IDS:
            self._recent.discard(self._recent_order.popleft())

    def _notified(self, payload: str) -> None:
        """A commit with events: wake up, unless this relay has already published that commit's events."""
        if payload and payload in self._recent:
            return
        if payload and self._passing:
            self._heard.add(payload)
            return
        self._wake.set()

    async def _listen(self) -> None:
        """LISTEN for commits that staged events; falls back to polling whenever the listener is down."""
        channel = notify_channel(self.outbox.schema or "public")
        while not self._stopping:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self.libpq_url, autocommit=True, keepalives=1, keepalives_idle=10, keepalives_interval=5
                ) as conn:
                    await conn.execute(f'LISTEN "{channel}"')
                    self._listening = True
                    # Events committed while nobody listened are found by this first pass.
                    self._wake.set()
                    async for notify in conn.notifies():
                        self._notified(notify.payload)
            except asyncio.CancelledError:
                raise
            except Exception as err:
                log.debug("outbox listener reconnecting: %s", err)
            finally:
                self._listening = False
            await asyncio.sleep(1.0)
