"""A migrated integration-gateway runtime, an in-process gRPC server for it, and a lead-service stand-in."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

import grpc
import pytest
import pytest_asyncio

from crm.integration.v1 import integration_pb2_grpc
from crm.lead.v1 import lead_pb2, lead_pb2_grpc
from crm_common.bus.consumer import DurableConsumer
from crm_common.errors import FieldViolation, InvalidArgument
from crm_common.grpc_client import channel_as
from crm_common.grpc_server import GrpcServer
from crm_common.identity import Role, user_principal
from crm_common.service import Runtime
from crm_common.settings import PeerAddresses
from integration_gateway.app import DEFINITION, build
from integration_gateway.tests.receiver import Receiver


class LeadStandIn(lead_pb2_grpc.LeadServiceServicer):
    """Test double of the lead service's CaptureLead: records requests and dedupes by idempotency key."""

    def __init__(self) -> None:
        self.requests: list[lead_pb2.CaptureLeadRequest] = []
        self.leads: dict[str, str] = {}
        self.reject: list[FieldViolation] = []

    async def CaptureLead(
        self, request: lead_pb2.CaptureLeadRequest, context: grpc.aio.ServicerContext
    ) -> lead_pb2.CaptureLeadResponse:
        self.requests.append(request)
        if self.reject:
            raise InvalidArgument(self.reject)
        created = request.idempotency_key not in self.leads
        lead_id = self.leads.setdefault(request.idempotency_key, str(uuid.uuid4()))
        return lead_pb2.CaptureLeadResponse(lead=lead_pb2.Lead(id=lead_id, input=request.lead), created=created)

    def calls_with(self, key: str) -> int:
        return sum(1 for r in self.requests if r.idempotency_key == key)


async def start_lead_stand_in(port: int = 0) -> tuple[GrpcServer, LeadStandIn]:
    """A lead service stand-in behind the shared server bootstrap (so errors carry BadRequest details)."""
    server = GrpcServer(port=port, service_names=["crm.lead.v1.LeadService"])
    stand_in = LeadStandIn()
    lead_pb2_grpc.add_LeadServiceServicer_to_server(stand_in, server.server)
    await server.start()
    return server, stand_in


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def runtime(service_runtime: Callable[..., AbstractAsyncContextManager[Runtime]]) -> AsyncIterator[Runtime]:
    """Tests share it and keep apart by using their own sources and keys; stalled receipts retry at once."""
    async with service_runtime(DEFINITION, webhook_retry_after_seconds=0.0) as rt:
        yield rt


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def lead_server() -> AsyncIterator[tuple[GrpcServer, LeadStandIn]]:
    server, stand_in = await start_lead_stand_in()
    yield server, stand_in
    await server.stop(0)


@pytest.fixture
def lead(runtime: Runtime, lead_server: tuple[GrpcServer, LeadStandIn]) -> LeadStandIn:
    """The stand-in, reset, with the runtime pointed at it."""
    server, stand_in = lead_server
    stand_in.requests.clear()
    stand_in.reject = []
    runtime.peers = PeerAddresses(lead_addr=f"127.0.0.1:{server.port}")
    return stand_in


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def stub(runtime: Runtime) -> AsyncIterator[integration_pb2_grpc.IntegrationServiceStub]:
    """IntegrationService served in-process on a free port."""
    wiring = await build(runtime)
    server = GrpcServer(port=0, service_names=DEFINITION.grpc_services)
    wiring.register(server.server)
    await server.start()
    await server.serving(True)
    async with channel_as(f"127.0.0.1:{server.port}", user_principal(Role.ADMIN)) as channel:
        yield integration_pb2_grpc.IntegrationServiceStub(channel)
    await server.stop(0)


Stub = integration_pb2_grpc.IntegrationServiceStub


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def stack(
    service_runtime: Callable[..., AbstractAsyncContextManager[Runtime]],
) -> AsyncIterator[tuple[Runtime, Stub]]:
    """The service with its consumers and dispatcher running, loopback receivers allowed, a fast retry schedule."""
    async with service_runtime(
        DEFINITION, outbound_allowed_networks="127.0.0.0/8", delivery_retry_schedule_seconds=[0, 0.05, 0.05, 0.05],
        delivery_poll_seconds=0.05, dependency_probe_interval_seconds=0.2,
    ) as runtime:
        wiring = await build(runtime)
        server = GrpcServer(port=0, service_names=DEFINITION.grpc_services)
        wiring.register(server.server)
        await server.start()
        assert runtime.js is not None
        consumers = [
            DurableConsumer(spec, db=runtime.db, inbox=DEFINITION.inbox, js=runtime.js, max_deliver=5)
            for spec in wiring.consumers
        ]
        tasks = [asyncio.create_task(c.run()) for c in consumers]
        tasks += [asyncio.create_task(job()) for job in wiring.background]
        async with channel_as(f"127.0.0.1:{server.port}", user_principal(Role.ADMIN)) as channel:
            yield runtime, Stub(channel)
        for c in consumers:
            c.stop()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.stop(0)


@pytest_asyncio.fixture(loop_scope="session")
async def receiver() -> AsyncIterator[Receiver]:
    r = await Receiver().start()
    yield r
    await r.stop()


