"""pipeline as a service: its definition and its wiring."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc

from crm.pipeline.v1 import pipeline_pb2_grpc
from crm_common.service import Runtime, ServiceDefinition, Wiring
from pipeline.consumers import lead_contacted_consumer
from pipeline.deps import Deps
from pipeline.directory import LeadDirectory
from pipeline.handlers import PipelineServicer
from pipeline.handover.consumer import rep_deactivated_consumer
from pipeline.settings import get_settings
from pipeline.stalls import worker
from pipeline.tables import SCHEMA, metadata

DEFINITION = ServiceDefinition(
    name="pipeline",
    schema=SCHEMA,
    grpc_services=["crm.pipeline.v1.PipelineService"],
    metadata=metadata,
    migrations_dir=Path(__file__).parent / "migrations",
    settings=get_settings,
    # An evidence document (up to CRM_MAX_FILE_BYTES, 20 MiB by default) travels in one AddFile request.
    max_message_bytes=24 * 1024 * 1024,
)


async def build(runtime: Runtime) -> Wiring:
    """Servicer, consumers and the stall worker of the process."""
    wake = asyncio.Event()
    deps = Deps(runtime=runtime, directory=LeadDirectory(runtime), on_due_changed=wake.set)
    servicer = PipelineServicer(runtime, deps=deps)

    def register(server: grpc.aio.Server) -> None:
        pipeline_pb2_grpc.add_PipelineServiceServicer_to_server(servicer, server)

    return Wiring(
        register=register,
        consumers=[lead_contacted_consumer(runtime), rep_deactivated_consumer(deps)],
        background=[lambda: worker.run(deps, wake)],
    )
