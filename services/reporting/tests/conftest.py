"""reporting test fixtures: one migrated runtime (database, NATS, relay) for the package."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

import pytest_asyncio

from crm.reporting.v1 import reporting_pb2_grpc
from crm_common.grpc_client import channel_as
from crm_common.grpc_server import GrpcServer
from crm_common.identity import Role, user_principal
from crm_common.service import Runtime, ServiceDefinition
from reporting.app import DEFINITION, build


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def runtime(
    service_runtime: Callable[[ServiceDefinition], AbstractAsyncContextManager[Runtime]],
) -> AsyncIterator[Runtime]:
    async with service_runtime(DEFINITION) as rt:
        yield rt


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def address(runtime: Runtime) -> AsyncIterator[str]:
    """The service served in-process on a free port."""
    server = GrpcServer(port=0, service_names=DEFINITION.grpc_services)
    (await build(runtime)).register(server.server)
    await server.start()
    yield f"127.0.0.1:{server.port}"
    await server.stop(0)


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def stub(address: str) -> AsyncIterator[reporting_pb2_grpc.ReportingServiceStub]:
    """A client of the served service, as an admin."""
    async with channel_as(address, user_principal(Role.ADMIN)) as channel:
        yield reporting_pb2_grpc.ReportingServiceStub(channel)
