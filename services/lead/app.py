"""Wiring of the lead service."""

from __future__ import annotations

from pathlib import Path

import grpc

from crm.lead.v1 import lead_pb2_grpc
from crm_common.service import Runtime, ServiceDefinition, Wiring
from lead import tables
from lead.capture.use_cases import sweep_waiting_leads
from lead.consumers import CONSUMERS
from lead.domain import set_regions
from lead.handlers import LeadServicer
from lead.ownership.clocks import run_clocks
from lead.settings import get_settings

DEFINITION = ServiceDefinition(
    name="lead",
    schema=tables.SCHEMA,
    grpc_services=["crm.lead.v1.LeadService"],
    metadata=tables.metadata,
    migrations_dir=Path(__file__).parent / "migrations",
    settings=get_settings,
)


async def build(runtime: Runtime) -> Wiring:
    """Servicer, consumers, the sweeper that finishes what capture could not, and the lead clocks."""
    set_regions(runtime.settings.regions)
    servicer = LeadServicer(runtime)

    def register(server: grpc.aio.Server) -> None:
        lead_pb2_grpc.add_LeadServiceServicer_to_server(servicer, server)

    async def sweeper() -> None:
        await sweep_waiting_leads(runtime)

    async def clocks() -> None:
        await run_clocks(runtime)

    return Wiring(register=register, consumers=CONSUMERS, background=[sweeper, clocks])
