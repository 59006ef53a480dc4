"""What the bus tests share: the test bed a `bus` fixture (conftest.py) hands them, and a table for handlers' effects."""

from __future__ import annotations

from dataclasses import dataclass

from nats.js import JetStreamContext
from sqlalchemy import Table, text
from sqlalchemy.ext.asyncio import AsyncConnection

from crm.events.v1 import lead_events_pb2
from crm_common.bus.consumer import EventMeta
from crm_common.db import Database
from tools.devstack.infra import NatsServer


@dataclass
class Bus:
    db: Database
    outbox: Table
    inbox: Table
    js: JetStreamContext
    nats: NatsServer
    libpq_url: str


async def effects(bus: Bus) -> list[str]:
    """The leads whose events handlers applied (through `record_effect`), sorted."""
    async with bus.db.connect() as conn:
        return sorted((await conn.execute(text("SELECT lead_id FROM bus.effects"))).scalars())


async def record_effect(conn: AsyncConnection, message: lead_events_pb2.LeadAssigned, meta: EventMeta) -> None:
    """A handler's effect, written in the transaction that records the event in the inbox."""
    await conn.execute(
        text("INSERT INTO bus.effects (lead_id, event_id) VALUES (:lead, :event)"),
        {"lead": message.lead_id, "event": meta.event_id},
    )
