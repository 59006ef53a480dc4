"""customer-master as a service: its definition and its wiring."""

from __future__ import annotations

from pathlib import Path

import grpc

from crm.customer.v1 import customer_pb2_grpc
from crm_common.service import Runtime, ServiceDefinition, Wiring
from customer_master.handlers import CustomerServicer
from customer_master.settings import get_settings
from customer_master.tables import SCHEMA, metadata

DEFINITION = ServiceDefinition(
    name="customer-master",
    schema=SCHEMA,
    grpc_services=["crm.customer.v1.CustomerService"],
    metadata=metadata,
    migrations_dir=Path(__file__).parent / "migrations",
    settings=get_settings,
)


async def build(runtime: Runtime) -> Wiring:
    """Servicers of the process; customer-master consumes no events yet."""
    servicer = CustomerServicer(runtime)

    def register(server: grpc.aio.Server) -> None:
        customer_pb2_grpc.add_CustomerServiceServicer_to_server(servicer, server)

    return Wiring(register=register)
