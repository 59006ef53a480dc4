"""A database outage longer than the whole retry budget dead-letters nothing; a poison message still is."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import nats
import psycopg
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.ext.asyncio import AsyncConnection

from crm.events.v1 import lead_events_pb2
from crm_common.bus.consumer import ConsumerSpec, DurableConsumer, EventMeta
from crm_common.bus.dlq import list_dead_letters
from crm_common.bus.outage import is_infrastructure_failure
from crm_common.bus.streams import ensure_streams
from crm_common.bus.tables import create_bus_tables, inbox_table, outbox_table
from crm_common.db import Database, service_metadata
from crm_common.metrics import CONSUMER_PAUSED, DEAD_LETTERS_WAITING
from crm_common.tests.busbed import Bus, effects, record_effect
from tools.devstack.infra import NatsServer, PostgresServer

# Three failures of its own dead-letter a message: 0.5 s + 1 s of backoff in all, far less than the outage below.
MAX_DELIVER = 3
OUTAGE_SECONDS = 8.0


@pytest.fixture
def own_postgres(tmp_path: Path) -> Iterator[PostgresServer]:
    """A PostgreSQL of the test's own, so that stopping it stops no other test's database."""
    server = PostgresServer(tmp_path / "pg")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def outage_bus(own_postgres: PostgresServer, fresh_nats: NatsServer) -> AsyncIterator[Bus]:
    """The bus's test bed (as conftest's `bus`) on that PostgreSQL."""
    engine = create_engine(own_postgres.url)
    with engine.begin() as conn:
        conn.execute(text("CREATE SCHEMA bus"))
        create_bus_tables(conn, "bus")
        conn.execute(text("CREATE TABLE bus.effects (lead_id text NOT NULL, event_id text NOT NULL)"))
    engine.dispose()
    nc = await nats.connect(fresh_nats.url, max_reconnect_attempts=-1, reconnect_time_wait=0.2)
    js = nc.jetstream()
    await ensure_streams(js)
    db = Database(own_postgres.url, instrument=False)
    metadata = service_metadata("bus")
    yield Bus(db, outbox_table(metadata), inbox_table(metadata), js, fresh_nats, own_postgres.libpq_url)
    await nc.close()
    await db.dispose()


async def _publish(bus: Bus, lead_id: str) -> None:
    payload = lead_events_pb2.LeadAssigned(lead_id=lead_id, assignee_id="rep-1").SerializeToString()
    await bus.js.publish("crm.lead.assigned", payload, headers={"Nats-Msg-Id": f"{lead_id}-1"})


async def _until(condition, *, within: float) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + within
    while not await condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.1)


async def test_postgresql_down_longer_than_the_budget_dead_letters_nothing(
    outage_bus: Bus, own_postgres: PostgresServer
) -> None:
    bus = outage_bus
    poison_calls: list[int] = []

    async def handler(conn: AsyncConnection, message: lead_events_pb2.LeadAssigned, meta: EventMeta) -> None:
        if message.lead_id == "poison":
            poison_calls.append(meta.delivery)
            raise ValueError("cannot apply")
        await record_effect(conn, message, meta)

    spec = ConsumerSpec("test-outage", "crm.lead.assigned", handler)
    consumer = DurableConsumer(spec, db=bus.db, inbox=bus.inbox, js=bus.js, max_deliver=MAX_DELIVER)
    task = asyncio.create_task(consumer.run())
    try:
        await _publish(bus, "before")
        await _until(lambda: _has_effects(bus, ["before"]), within=20)
        own_postgres.stop()
        leads = [f"lead-{n}" for n in range(20)]
        for lead_id in leads:
            await _publish(bus, lead_id)

        async def paused() -> bool:
            return consumer.paused

        await _until(paused, within=20)
        # Several times the budget three failures would spend: the old consumer dead-lettered them all by now.
        await asyncio.sleep(OUTAGE_SECONDS)
        assert consumer.paused
        assert CONSUMER_PAUSED.labels("test-outage")._value.get() == 1
        own_postgres.start()
        await _until(lambda: _has_effects(bus, sorted(["before", *leads])), within=60)
        assert not consumer.paused
        assert CONSUMER_PAUSED.labels("test-outage")._value.get() == 0
        assert await list_dead_letters(bus.js, "test-outage") == []

        # A message failing on its own still spends its budget and is dead-lettered.
        await _publish(bus, "poison")

        async def dead_lettered() -> bool:
            return len(await list_dead_letters(bus.js, "test-outage")) == 1

        await _until(dead_lettered, within=30)
    finally:
        consumer.stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 10)
    [letter] = await list_dead_letters(bus.js, "test-outage")
    assert letter.subject == "crm.lead.assigned"
    assert letter.deliveries == str(MAX_DELIVER)
    assert poison_calls == [1, 2, 3]
    await consumer._report("CRM_LEAD")
    assert DEAD_LETTERS_WAITING.labels("test-outage")._value.get() == 1
    # Applied once each, nothing doubled by the redeliveries around the outage.
    assert await effects(bus) == sorted(["before", *leads])


async def _has_effects(bus: Bus, expected: list[str]) -> bool:
    with contextlib.suppress(Exception):
        return await effects(bus) == expected
    return False


def _rpc_error(code: grpc.StatusCode) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details="peer")


@pytest.mark.parametrize(
    ("error", "infrastructure"),
    [
        (psycopg.OperationalError("connection refused"), True),
        (psycopg.errors.AdminShutdown("terminating connection"), True),
        (psycopg.errors.SerializationFailure("could not serialize"), True),
        (psycopg.errors.QueryCanceled("statement timeout"), False),
        (psycopg.errors.UniqueViolation("duplicate key"), False),
        (_rpc_error(grpc.StatusCode.UNAVAILABLE), True),
        (_rpc_error(grpc.StatusCode.DEADLINE_EXCEEDED), True),
        (_rpc_error(grpc.StatusCode.INVALID_ARGUMENT), False),
        (ConnectionResetError("reset by peer"), True),
        (ValueError("cannot apply"), False),
    ],
)
def test_infrastructure_failures_are_told_from_a_message_s_own(error: Exception, infrastructure: bool) -> None:
    assert is_infrastructure_failure(error) is infrastructure
    wrapped = RuntimeError("handler failed")
    wrapped.__cause__ = error
    assert is_infrastructure_failure(wrapped) is infrastructure


async def test_a_consumer_declared_with_a_server_side_budget_is_updated_to_none(bus: Bus) -> None:
    spec = ConsumerSpec("test-old-budget", "crm.lead.assigned", record_effect)
    consumer = DurableConsumer(spec, db=bus.db, inbox=bus.inbox, js=bus.js, max_deliver=MAX_DELIVER)
    old = consumer._config()
    old.max_deliver = 5
    await bus.js.add_consumer("CRM_LEAD", config=old)
    feed = await consumer._open_feed()
    await feed.close()
    assert (await bus.js.consumer_info("CRM_LEAD", "test-old-budget")).config.max_deliver == -1
