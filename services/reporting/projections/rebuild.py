"""Rebuild a projection from the JetStream history into new tables, then swap them in.

The new tables fill from the streams' first message while the live consumers carry on. The swap transaction
locks the live tables (the live consumers wait), applies what arrived meanwhile, records every event the rebuild
applied in the live consumers' inbox (so none is applied twice after the swap: a live batch still waiting on the
lock either deadlocks with this insert and retries, finding its events in the inbox, or commits first and its
events are then in the stream the swap read), drops the old tables and gives the new ones their names.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from crm_common.bus.catalog import decode, stream_of
from crm_common.bus.consumer import EventMeta
from crm_common.db import Database, service_metadata
from crm_common.errors import FieldViolation, InvalidArgument
from reporting.projections.consumers import APPLY, durable_of
from reporting.projections.repository import COLLECT, LIVE, SCHEMA, flush
from reporting.projections.schema import PROJECTIONS

log = logging.getLogger(__name__)
FETCH = 512


@dataclass(frozen=True)
class RebuildResult:
    """What a rebuild did: the tables swapped in, the events applied, and how long it took."""

    tables: tuple[str, ...]
    events: int
    seconds: float


def plan(projection: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The tables rebuilt together with a projection (those its subjects also write) and those subjects."""
    if projection not in PROJECTIONS:
        raise InvalidArgument([FieldViolation("projection", "one of " + ", ".join(PROJECTIONS))])
    tables = {projection}
    while True:
        subjects = {s for s, (written, _) in APPLY.items() if tables & set(written)}
        grown = tables | {t for s in subjects for t in APPLY[s][0]}
        if grown == tables:
            return tuple(sorted(tables)), tuple(sorted(subjects))
        tables = grown


class _Reader:
    """One subject's history through an ephemeral pull consumer, from its first message."""

    def __init__(self, js: JetStreamContext, subject: str) -> None:
        self.js, self.subject, self.seen = js, subject, 0
        self.sub = None

    async def read_to(self, last: int) -> list[tuple[object, EventMeta]]:
        """Every message of the subject up to stream sequence `last` not read yet."""
        if self.sub is None:
            self.sub = await self.js.pull_subscribe(
                self.subject,
                stream=stream_of(self.subject),
                config=ConsumerConfig(
                    deliver_policy=DeliverPolicy.ALL, ack_policy=AckPolicy.NONE, inactive_threshold=300.0
                ),
            )
        out: list[tuple[object, EventMeta]] = []
        while self.seen < last:
            try:
                msgs = await self.sub.fetch(FETCH, timeout=1)
            except (NatsTimeout, TimeoutError):
                break  # nothing more of this subject up to `last`
            for msg in msgs:
                self.seen = msg.metadata.sequence.stream
                event_id = (msg.headers or {}).get("Nats-Msg-Id", f"{self.subject}:{self.seen}")
                meta = EventMeta(
                    event_id=event_id,
                    subject=self.subject,
                    published_at=msg.metadata.timestamp or datetime.now(UTC),
                    delivery=1,
                )
                out.append((decode(self.subject, msg.data), meta))
        return out

    async def close(self) -> None:
        if self.sub is not None:
            await self.sub.unsubscribe()


async def _last_sequence(js: JetStreamContext, subject: str) -> int:
    """The stream sequence of the subject's last message (0: none)."""
    try:
        return (await js.get_last_msg(stream_of(subject), subject)).seq or 0
    except NotFoundError:
        return 0


async def _apply(
    conn: AsyncConnection, events: list[tuple[object, EventMeta]], tables: Mapping[str, str], seen: str
) -> None:
    statements: list[tuple[str, dict[str, object]]] = []
    conn.info[COLLECT] = statements
    try:
        for message, meta in events:
            await APPLY[meta.subject][1](conn, message, meta, tables)
    finally:
        conn.info.pop(COLLECT, None)
    await flush(conn, statements)
    if events:
        await conn.execute(
            text(
                f"INSERT INTO {SCHEMA}.{seen} (consumer, event_id) SELECT unnest(CAST(:c AS text[])), "
                "unnest(CAST(:e AS text[])) ON CONFLICT DO NOTHING"
            ),
            {"c": [durable_of(m.subject) for _, m in events], "e": [m.event_id for _, m in events]},
        )


async def rebuild(db: Database, js: JetStreamContext, *, projection: str) -> RebuildResult:
    """Rebuild `projection` (and the tables its events also write) from the stream history, then swap."""
    started = time.perf_counter()
    tables, subjects = plan(projection)
    suffix = uuid.uuid4().hex[:8]
    new = {t: f"{t}_r{suffix}" for t in tables}
    seen = f"rebuild_seen_{suffix}"
    metadata = service_metadata(SCHEMA)
    created = [PROJECTIONS[t](metadata, new[t]) for t in tables]
    async with db.transaction() as conn:
        for table in created:
            await conn.run_sync(lambda sync, table=table: table.create(sync))
        await conn.execute(
            text(
                f"CREATE UNLOGGED TABLE {SCHEMA}.{seen} (consumer text, event_id text, "
                "PRIMARY KEY (consumer, event_id))"
            )
        )
    target = {**LIVE, **new}
    readers = [_Reader(js, s) for s in subjects]
    count = 0
    try:
        for reader in readers:
            last = await _last_sequence(js, reader.subject)
            while reader.seen < last:
                events = await reader.read_to(min(last, reader.seen + FETCH * 8))
                if not events:
                    break
                async with db.transaction() as conn:
                    await _apply(conn, events, target, seen)
                count += len(events)
        async with db.transaction() as conn:
            for t in tables:
                await conn.execute(text(f"LOCK TABLE {SCHEMA}.{t} IN ACCESS EXCLUSIVE MODE"))
            for reader in readers:
                events = await reader.read_to(await _last_sequence(js, reader.subject))
                await _apply(conn, events, target, seen)
                count += len(events)
            await conn.execute(
                text(
                    f"INSERT INTO {SCHEMA}.inbox (consumer, event_id) SELECT consumer, event_id "
                    f"FROM {SCHEMA}.{seen} ON CONFLICT DO NOTHING"
                )
            )
            for t in tables:
                await _swap(conn, t, new[t])
            await conn.execute(text(f"DROP TABLE {SCHEMA}.{seen}"))
    except BaseException:
        async with db.transaction() as conn:
            for t in new.values():
                await conn.execute(text(f"DROP TABLE IF EXISTS {SCHEMA}.{t}"))
            await conn.execute(text(f"DROP TABLE IF EXISTS {SCHEMA}.{seen}"))
        raise
    finally:
        for reader in readers:
            await reader.close()
    seconds = time.perf_counter() - started
    log.info("rebuilt %s from %d events in %.1f s", ", ".join(tables), count, seconds)
    return RebuildResult(tables=tables, events=count, seconds=seconds)


async def _swap(conn: AsyncConnection, live: str, new: str) -> None:
    """Drop the live table, give the new one its name and its indexes the live names."""
    indexes = (
        (
            await conn.execute(
                text("SELECT indexname FROM pg_indexes WHERE schemaname = :s AND tablename = :t"),
                {"s": SCHEMA, "t": new},
            )
        )
        .scalars()
        .all()
    )
    await conn.execute(text(f"DROP TABLE {SCHEMA}.{live}"))
    await conn.execute(text(f"ALTER TABLE {SCHEMA}.{new} RENAME TO {live}"))
    for index in indexes:
        await conn.execute(text(f"ALTER INDEX {SCHEMA}.{index} RENAME TO {index.replace(new, live)}"))
