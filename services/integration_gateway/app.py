"""The integration gateway: its definition and how its parts are wired."""

from __future__ import annotations

from pathlib import Path

import grpc

from crm.integration.v1 import integration_pb2_grpc
from crm_common.service import Runtime, ServiceDefinition, Wiring
from integration_gateway import tables
from integration_gateway.capture import WebhookCapture
from integration_gateway.dependencies.handlers import DependencyContext
from integration_gateway.dependencies.prober import DependencyProber
from integration_gateway.handlers import IntegrationServicer
from integration_gateway.outbound.consumers import consumer_specs
from integration_gateway.outbound.dispatcher import DeliveryDispatcher
from integration_gateway.outbound.handlers import OutboundContext
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
    """Servicer, event consumers and background jobs (webhook retries, deliveries, probes) of one process."""
    settings = runtime.settings
    if not isinstance(settings, IntegrationSettings):
        raise TypeError("the integration gateway needs IntegrationSettings")
    capture = WebhookCapture(runtime, settings)
    guard = settings.egress_guard()
    dispatcher = DeliveryDispatcher(runtime.db, settings, guard)
    prober = DependencyProber(
        runtime.db, guard,
        interval=settings.dependency_probe_interval_seconds, timeout=settings.dependency_probe_timeout_seconds,
    )
    servicer = IntegrationServicer(
        runtime, capture,
        OutboundContext(guard=guard, wake=dispatcher.wake, default_overlap_seconds=settings.secret_overlap_seconds),
        DependencyContext(guard=guard),
    )
    retrier = StalledReceiptRetrier(runtime, capture, settings)

    def register(server: grpc.aio.Server) -> None:
        integration_pb2_grpc.add_IntegrationServiceServicer_to_server(servicer, server)

    return Wiring(
        register=register,
        consumers=consumer_specs(dispatcher.wake),
        background=[retrier.run, dispatcher.run, prober.run],
    )
