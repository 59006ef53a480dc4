"""customer-master test fixtures: one migrated runtime (database, NATS, relay) for the package."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

import pytest_asyncio

from crm.customer.v1 import customer_pb2_grpc
from crm_common.grpc_client import channel_as
from crm_common.grpc_server import GrpcServer
from crm_common.identity import service_principal
from crm_common.service import Runtime, ServiceDefinition
from customer_master.app import DEFINITION, build


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def runtime(
    service_runtime: Callable[[ServiceDefinition], AbstractAsyncContextManager[Runtime]],
) -> AsyncIterator[Runtime]:
    async with service_runtime(DEFINITION) as rt:
        yield rt


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def stub(runtime: Runtime) -> AsyncIterator[customer_pb2_grpc.CustomerServiceStub]:
    """A client of the service served in-process on a free port."""
    server = GrpcServer(port=0, service_names=DEFINITION.grpc_services)
    (await build(runtime)).register(server.server)
    await server.start()
    # A peer service acting for nobody: it relays the actor and role a request names (tests of stewardship rules);
    # users' own rights are tested in test_access.py.
    async with channel_as(f"127.0.0.1:{server.port}", service_principal("test-client")) as channel:
        yield customer_pb2_grpc.CustomerServiceStub(channel)
    await server.stop(0)
