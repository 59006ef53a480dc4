"""customer-master as a service: its definition and its wiring."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import grpc

from crm.customer.v1 import contact_pb2_grpc, customer_pb2_grpc
from crm_common.service import Runtime, ServiceDefinition, Wiring
from customer_master import access, contact_intake, survivorship
from customer_master.consumers import CONSUMERS
from customer_master.contact_handlers import ContactServicer
from customer_master.contact_merges import CONTACT_CONSUMERS
from customer_master.dedup_jobs import DedupWorker
from customer_master.handlers import CustomerServicer
from customer_master.settings import get_settings
from customer_master.stewardship import data_health
from customer_master.tables import SCHEMA, metadata

log = logging.getLogger(__name__)

DEFINITION = ServiceDefinition(
    name="customer-master",
    schema=SCHEMA,
    grpc_services=["crm.customer.v1.CustomerService", "crm.customer.v1.ContactService"],
    metadata=metadata,
    migrations_dir=Path(__file__).parent / "migrations",
    settings=get_settings,
)


# How often the data-health gauges are recomputed (the figures are counts over the whole table).
DATA_HEALTH_INTERVAL_SECONDS = 60.0
# How long the survivorship loop rests when no golden record waits for a rebuild, and how often it rescans.
SURVIVORSHIP_IDLE_SECONDS = 5.0
SURVIVORSHIP_RESCAN_SECONDS = 600.0
# How long the contact intake worker rests when the queue is empty (a resolved person's contact lags by about this).
CONTACT_INTAKE_IDLE_SECONDS = 0.2


async def build(runtime: Runtime) -> Wiring:
    """Servicers, event consumers, the dedup job worker, and the loops that keep data health and golden records."""
    servicer = CustomerServicer(runtime)
    dedup_worker = DedupWorker(runtime, servicer.settings)
    servicer.dedup_wake = dedup_worker.wake

    def register(server: grpc.aio.Server) -> None:
        customer_pb2_grpc.add_CustomerServiceServicer_to_server(servicer, server)
        contact_pb2_grpc.add_ContactServiceServicer_to_server(ContactServicer(runtime), server)

    async def data_health_gauges() -> None:
        while True:
            try:
                async with runtime.db.connect() as conn:
                    await data_health(conn, stale_after_days=servicer.settings.stale_after_days)
            except Exception:
                log.warning("data health not computed", exc_info=True)
            await asyncio.sleep(DATA_HEALTH_INTERVAL_SECONDS)

    async def link_queued_people() -> None:
        while True:
            try:
                taken = await contact_intake.process_intake(runtime.db)
            except Exception:
                log.warning("contact intake not processed", exc_info=True)
                taken = 0
            if taken < contact_intake.INTAKE_BATCH:
                await asyncio.sleep(CONTACT_INTAKE_IDLE_SECONDS)

    async def survivorship_rebuilds() -> None:
        cursor, rescan_at = survivorship.Cursor(), asyncio.get_running_loop().time() + SURVIVORSHIP_RESCAN_SECONDS
        while True:
            try:
                done = await survivorship.rebuild_pending(runtime, servicer.settings.golden_owners(), cursor=cursor)
            except Exception:
                log.warning("survivorship rebuild failed", exc_info=True)
                done = 0
            if asyncio.get_running_loop().time() >= rescan_at:
                # Accounts made outside capture carry no mark: a periodic scan finds them.
                cursor.done, cursor.after = False, None
                rescan_at = asyncio.get_running_loop().time() + SURVIVORSHIP_RESCAN_SECONDS
            if done == 0:
                await asyncio.sleep(SURVIVORSHIP_IDLE_SECONDS)

    return Wiring(
        register=register,
        consumers=[*CONSUMERS, *CONTACT_CONSUMERS, *access.CONSUMERS],
        background=[data_health_gauges, link_queued_people, survivorship_rebuilds, dedup_worker.run],
    )
