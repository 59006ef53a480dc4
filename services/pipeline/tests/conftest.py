"""pipeline test fixtures: one migrated runtime (database, NATS, relay) for the package."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

import pytest_asyncio

from crm.pipeline.v1 import pipeline_pb2_grpc
from crm_common.grpc_client import channel_as
from crm_common.grpc_server import GrpcServer
from crm_common.identity import Role, user_principal
from crm_common.service import Runtime, ServiceDefinition
from pipeline.app import DEFINITION, build
from pipeline.deps import Deps
from pipeline.directory import OwnerInfo, StaticDirectory
from pipeline.handlers import PipelineServicer


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def runtime(
    service_runtime: Callable[[ServiceDefinition], AbstractAsyncContextManager[Runtime]],
) -> AsyncIterator[Runtime]:
    async with service_runtime(DEFINITION) as rt:
        yield rt


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def stub(runtime: Runtime) -> AsyncIterator[pipeline_pb2_grpc.PipelineServiceStub]:
    """A client of the service served in-process on a free port."""
    server = GrpcServer(port=0, service_names=DEFINITION.grpc_services)
    (await build(runtime)).register(server.server)
    await server.start()
    async with channel_as(f"127.0.0.1:{server.port}", user_principal(Role.ADMIN)) as channel:
        yield pipeline_pb2_grpc.PipelineServiceStub(channel)
    await server.stop(0)


REPS = {
    "rep-a": OwnerInfo(team_id="team-1", manager_id="mgr-1"),
    "rep-b": OwnerInfo(team_id="team-2", manager_id="mgr-2"),
    "rep-c": OwnerInfo(team_id="team-1", manager_id="mgr-1"),
}


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def servicer(runtime: Runtime) -> PipelineServicer:
    """The servicer called in-process, the sales organisation given as data (the lead service is not running)."""
    return PipelineServicer(runtime, directory=StaticDirectory(REPS))


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def deps(servicer: PipelineServicer) -> Deps:
    return servicer.deps


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def served(servicer: PipelineServicer) -> AsyncIterator[str]:
    """The address of that servicer served in-process on a free port (callers bring their own identity)."""
    server = GrpcServer(port=0, service_names=DEFINITION.grpc_services)
    pipeline_pb2_grpc.add_PipelineServiceServicer_to_server(servicer, server.server)
    await server.start()
    yield f"127.0.0.1:{server.port}"
    await server.stop(0)
