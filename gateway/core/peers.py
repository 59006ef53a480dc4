"""Channels and stubs to the services behind the edge, with the deadlines every call uses.

Every call carries the token of the request's caller (set by RequireApiKey), minted once per caller and reused.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from opentelemetry.instrumentation.utils import suppress_instrumentation

from crm.integration.v1 import integration_pb2_grpc
from crm.lead.v1 import lead_pb2_grpc
from crm.notification.v1 import notification_pb2_grpc
from crm.pipeline.v1 import pipeline_pb2_grpc
from crm.reporting.v1 import reporting_pb2_grpc
from crm_common.grpc_client import open_channel
from crm_common.identity import current_principal
from crm_common.metrics import DEPENDENCY_UP
from gateway.core.config import GatewaySettings

# Capture resolves the customer and routes the lead before answering, so it gets the longest deadline.
CAPTURE_DEADLINE_SECONDS = 10.0
CALL_DEADLINE_SECONDS = 5.0
HEALTH_DEADLINE_SECONDS = 1.0

# Each peer's readiness is its named gRPC service's health ("" only says the process is alive).
PEER_SERVICES = {
    "lead": "crm.lead.v1.LeadService",
    "customer-master": "crm.customer.v1.CustomerService",
    "pipeline": "crm.pipeline.v1.PipelineService",
    "notification": "crm.notification.v1.NotificationService",
    "integration-gateway": "crm.integration.v1.IntegrationService",
    "reporting": "crm.reporting.v1.ReportingService",
}
REQUIRED_PEERS = ("lead",)


def peer_address(settings: GatewaySettings, name: str) -> str:
    """host:port of a peer (CRM_<NAME>_ADDR)."""
    return str(getattr(settings, f"{name.replace('-', '_')}_addr"))


@dataclass
class Peers:
    """One channel per peer service, opened in the app's lifespan and closed with it."""

    channels: dict[str, grpc.aio.Channel]
    lead: lead_pb2_grpc.LeadServiceStub
    pipeline: pipeline_pb2_grpc.PipelineServiceStub
    notification: notification_pb2_grpc.NotificationServiceStub
    integration: integration_pb2_grpc.IntegrationServiceStub
    reporting: reporting_pb2_grpc.ReportingServiceStub

    @classmethod
    def open(cls, settings: GatewaySettings) -> Peers:
        """Channels connect lazily, so opening never waits for a peer."""
        channels = {
            name: open_channel(peer_address(settings, name), caller=current_principal, settings=settings)
            for name in PEER_SERVICES
        }
        return cls(
            channels=channels,
            lead=lead_pb2_grpc.LeadServiceStub(channels["lead"]),
            pipeline=pipeline_pb2_grpc.PipelineServiceStub(channels["pipeline"]),
            notification=notification_pb2_grpc.NotificationServiceStub(channels["notification"]),
            integration=integration_pb2_grpc.IntegrationServiceStub(channels["integration-gateway"]),
            reporting=reporting_pb2_grpc.ReportingServiceStub(channels["reporting"]),
        )

    async def close(self) -> None:
        await asyncio.gather(*(channel.close() for channel in self.channels.values()))

    async def health(self) -> dict[str, str]:
        """Each peer's grpc.health.v1 status (`serving`, `not_serving`, `unreachable`, ...), checked at once."""
        names = list(self.channels)
        statuses = await asyncio.gather(*(_probe(self.channels[name], PEER_SERVICES[name]) for name in names))
        for name, status in zip(names, statuses, strict=True):
            DEPENDENCY_UP.labels(name).set(int(status == "serving"))
        return dict(zip(names, statuses, strict=True))


async def _probe(channel: grpc.aio.Channel, service: str) -> str:
    stub = health_pb2_grpc.HealthStub(channel)
    try:
        # Probes every few seconds would otherwise fill the trace store with one-span traces.
        with suppress_instrumentation():
            reply = await stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=HEALTH_DEADLINE_SECONDS)
    except grpc.aio.AioRpcError as err:
        if err.code() is grpc.StatusCode.NOT_FOUND:
            return "service_unknown"
        return "unreachable" if err.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED) else "unknown"
    return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status).lower()
