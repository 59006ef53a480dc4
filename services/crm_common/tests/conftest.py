"""The bus's test bed: a real PostgreSQL database with the bus tables, and a JetStream context with the streams."""

from __future__ import annotations

from collections.abc import AsyncIterator

import nats
import pytest
from sqlalchemy import create_engine, text

from crm_common.bus.streams import ensure_streams
from crm_common.bus.tables import create_bus_tables, inbox_table, outbox_table
from crm_common.db import Database, service_metadata
from crm_common.tests.busbed import Bus
from tools.devstack.infra import NatsServer


@pytest.fixture
async def bus(fresh_db_url: str, fresh_nats: NatsServer) -> AsyncIterator[Bus]:
    """Schema `bus` with an outbox and an inbox, and `bus.effects (lead_id, event_id)` for handlers to write to."""
    engine = create_engine(fresh_db_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE SCHEMA bus"))
        create_bus_tables(conn, "bus")
        conn.execute(text("CREATE TABLE bus.effects (lead_id text NOT NULL, event_id text NOT NULL)"))
    engine.dispose()
    metadata = service_metadata("bus")
    nc = await nats.connect(fresh_nats.url, max_reconnect_attempts=-1, reconnect_time_wait=0.2)
    js = nc.jetstream()
    await ensure_streams(js)
    db = Database(fresh_db_url, instrument=False)
    libpq = fresh_db_url.replace("postgresql+psycopg://", "postgresql://")
    yield Bus(db, outbox_table(metadata), inbox_table(metadata), js, fresh_nats, libpq)
    await nc.close()
    await db.dispose()
