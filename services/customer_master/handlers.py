"""gRPC CustomerService: translates requests to the resolution and repository calls, rows to messages."""

from __future__ import annotations

import uuid

import grpc

from crm.customer.v1 import customer_pb2, customer_pb2_grpc
from crm_common.errors import NotFound
from crm_common.service import Runtime
from customer_master import repository
from customer_master.convert import customer_message
from customer_master.resolution import ResolveRequest, resolve_customer


class CustomerServicer(customer_pb2_grpc.CustomerServiceServicer):
    """crm.customer.v1.CustomerService."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def ResolveCustomer(
        self, request: customer_pb2.ResolveCustomerRequest, context: grpc.aio.ServicerContext
    ) -> customer_pb2.ResolveCustomerResponse:
        resolution = await resolve_customer(
            self.runtime,
            ResolveRequest(
                name=request.name,
                company=request.company,
                phone=request.phone,
                email=request.email,
                source_ref=request.source_ref,
            ),
        )
        return customer_pb2.ResolveCustomerResponse(
            customer=customer_message(resolution.customer),
            created=resolution.created,
            matched_on=resolution.matched_on,
        )

    async def GetCustomer(
        self, request: customer_pb2.GetCustomerRequest, context: grpc.aio.ServicerContext
    ) -> customer_pb2.GetCustomerResponse:
        try:
            customer_id = uuid.UUID(request.customer_id)
        except ValueError:
            raise NotFound(f"customer {request.customer_id!r} not found") from None
        async with self.runtime.db.connect() as conn:
            row = await repository.get_customer(conn, customer_id=customer_id)
        if row is None:
            raise NotFound(f"customer {request.customer_id!r} not found")
        return customer_pb2.GetCustomerResponse(customer=customer_message(row))
