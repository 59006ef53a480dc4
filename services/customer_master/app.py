"""customer-master as a service: its definition and its wiring."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import grpc

from crm.customer.v1 import customer_pb2_grpc
from crm_common.service import Runtime, ServiceDefinition, Wiring
from customer_master.handlers import CustomerServicer
from customer_master.settings import get_settings
from customer_master.stewardship import data_health
from customer_master.tables import SCHEMA, metadata

log = logging.getLogger(__name__)

DEFINITION = ServiceDefinition(
    name="customer-master",
    schema=SCHEMA,
    grpc_services=["crm.customer.v1.CustomerService"],
    metadata=metadata,
    migrations_dir=Path(__file__).parent / "migrations",
    settings=get_settings,
)


# How often the data-health gauges are recomputed (the figures are counts over the whole table).
DATA_HEALTH_INTERVAL_SECONDS = 60.0


async def build(runtime: Runtime) -> Wiring:
    """Servicer and the loop that keeps the data-health gauges current; customer-master consumes no events yet."""
    servicer = CustomerServicer(runtime)

    def register(server: grpc.aio.Server) -> None:
        customer_pb2_grpc.add_CustomerServiceServicer_to_server(servicer, server)

    async def data_health_gauges() -> None:
        while True:
            try:
                async with runtime.db.connect() as conn:
                    await data_health(conn, stale_after_days=servicer.settings.stale_after_days)
            except Exception:
                log.warning("data health not computed", exc_info=True)
            await asyncio.sleep(DATA_HEALTH_INTERVAL_SECONDS)

    return Wiring(register=register, background=[data_health_gauges])
