"""The edge against in-process doubles of its peers, called through httpx's ASGI transport."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from crm.integration.v1 import integration_pb2_grpc
from crm.lead.v1 import lead_pb2_grpc
from crm.notification.v1 import notification_pb2_grpc
from crm.pipeline.v1 import pipeline_pb2_grpc
from crm.reporting.v1 import reporting_pb2_grpc
from crm_common.grpc_server import GrpcServer
from crm_common.telemetry import setup_telemetry
from gateway.core.lead_trace import LeadTraceContext
from gateway.main import create_app
from gateway.tests.doubles import IntegrationDouble, LeadDouble, NotificationDouble, PipelineDouble, ReportingDouble
from gateway.tests.support import ADDRESS_FIELDS, Doubles, closed_port, settings_for

# In-process servers and channels read their identity key from the environment: the fixed test one.
os.environ.setdefault("CRM_ENVIRONMENT", "test")

PEER_SERVICES = [
    "crm.lead.v1.LeadService",
    "crm.integration.v1.IntegrationService",
    "crm.reporting.v1.ReportingService",
    "crm.notification.v1.NotificationService",
    "crm.pipeline.v1.PipelineService",
    # No double behind it: the edge only asks its health.
    "crm.customer.v1.CustomerService",
]


@pytest.fixture(scope="session")
def spans() -> InMemorySpanExporter:
    """Spans finished by the process's SDK tracer provider."""
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = setup_telemetry("gateway-test")
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


@pytest.fixture(scope="session")
async def doubles(spans: InMemorySpanExporter) -> AsyncIterator[Doubles]:
    found = Doubles(LeadDouble(), IntegrationDouble(), ReportingDouble(), address="")
    server = GrpcServer(port=0, service_names=PEER_SERVICES)
    lead_pb2_grpc.add_LeadServiceServicer_to_server(found.lead, server.server)
    integration_pb2_grpc.add_IntegrationServiceServicer_to_server(found.integration, server.server)
    reporting_pb2_grpc.add_ReportingServiceServicer_to_server(found.reporting, server.server)
    notification_pb2_grpc.add_NotificationServiceServicer_to_server(NotificationDouble(), server.server)
    pipeline_pb2_grpc.add_PipelineServiceServicer_to_server(PipelineDouble(), server.server)
    await server.start()
    await server.serving(True)
    found.address = f"127.0.0.1:{server.port}"
    yield found
    await server.stop(0)


@pytest.fixture(scope="session")
async def edge(doubles: Doubles) -> AsyncIterator[LeadTraceContext]:
    """The edge as uvicorn serves it (lifespan run), every peer answered by the doubles."""
    app = create_app(settings_for(dict.fromkeys(ADDRESS_FIELDS, doubles.address)))
    async with app.router.lifespan_context(app):
        yield LeadTraceContext(app)


@pytest.fixture(scope="session")
async def broken_edge() -> AsyncIterator[LeadTraceContext]:
    """The edge with its lead service down and the pipeline service up but not serving."""
    not_serving = GrpcServer(port=0, service_names=["crm.pipeline.v1.PipelineService"])
    await not_serving.start()
    addresses = dict.fromkeys(ADDRESS_FIELDS, f"127.0.0.1:{closed_port()}")
    addresses["pipeline"] = f"127.0.0.1:{not_serving.port}"
    app = create_app(settings_for(addresses))
    async with app.router.lifespan_context(app):
        yield LeadTraceContext(app)
    await not_serving.stop(0)


@pytest.fixture
async def client(edge: LeadTraceContext) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=edge), base_url="http://edge") as c:
        yield c


@pytest.fixture
async def broken_client(broken_edge: LeadTraceContext) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=broken_edge), base_url="http://edge") as c:
        yield c
