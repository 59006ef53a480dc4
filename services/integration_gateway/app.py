"""The integration gateway: its definition and how its parts are wired."""

from __future__ import annotations

from pathlib import Path

import grpc

from crm.integration.v1 import integration_pb2_grpc
from crm_common.service import Runtime, ServiceDefinition, Wiring
from integration_gateway import tables
from integration_gateway.capture import WebhookCapture
from integration_gateway.handlers import IntegrationServicer
from integration_gateway.retry import StalledReceiptRetrier
from integration_gateway.settings import IntegrationSettings, get_settings

DEFINITION = ServiceDefinition(
    name="integration-gateway",
    schema="integration_gateway",
    grpc_services=["crm.integration.v1.IntegrationService"],
    metadata=tables.metadata,
    migrations_dir=Path(__file__).parent / "migrations",
    settings=get_settings,
)


async def build(runtime: Runtime) -> Wiring:
    """Servicer and the stalled-webhook retry job of one integration gateway process."""
    settings = runtime.settings
    if not isinstance(settings, IntegrationSettings):
        raise TypeError("the integration gateway needs IntegrationSettings")
    capture = WebhookCapture(runtime, settings)
    servicer = IntegrationServicer(runtime, capture)
    retrier = StalledReceiptRetrier(runtime, capture, settings)

    def register(server: grpc.aio.Server) -> None:
        integration_pb2_grpc.add_IntegrationServiceServicer_to_server(servicer, server)

    return Wiring(register=register, background=[retrier.run])
