"""reporting as a service: its definition and its wiring."""

from __future__ import annotations

from pathlib import Path

import grpc

from crm.reporting.v1 import reporting_pb2_grpc
from crm_common.service import Runtime, ServiceDefinition, Wiring
from reporting.consumers import CONSUMERS
from reporting.handlers import ReportingServicer
from reporting.projections.consumers import CONSUMERS as FACT_CONSUMERS
from reporting.settings import get_settings
from reporting.tables import SCHEMA, metadata

DEFINITION = ServiceDefinition(
    name="reporting",
    schema=SCHEMA,
    grpc_services=["crm.reporting.v1.ReportingService"],
    metadata=metadata,
    migrations_dir=Path(__file__).parent / "migrations",
    settings=get_settings,
)


async def build(runtime: Runtime) -> Wiring:
    """Servicer and projection consumers of the process."""
    servicer = ReportingServicer(runtime)

    def register(server: grpc.aio.Server) -> None:
        reporting_pb2_grpc.add_ReportingServiceServicer_to_server(servicer, server)

    return Wiring(register=register, consumers=[*CONSUMERS, *FACT_CONSUMERS])
