"""gRPC of inbound sources: PutSource, GetSource."""

from __future__ import annotations

import grpc
from sqlalchemy import Row

from crm.integration.v1 import integration_pb2
from crm_common.errors import InvalidArgument, NotFound, nul_violations
from crm_common.service import Runtime
from integration_gateway import domain
from integration_gateway.convert import ts
from integration_gateway.inbound import repository
from integration_gateway.inbound.domain import DEFAULT_KIND, source_violations


def source_to_proto(row: Row) -> integration_pb2.Source:
    return integration_pb2.Source(
        source=row.source, signed=bool(row.secret), mapping=row.mapping, kind=row.kind,
        updated_at=ts(row.updated_at),
    )


class SourceHandlers:
    """PutSource and GetSource."""

    runtime: Runtime

    async def PutSource(
        self, request: integration_pb2.PutSourceRequest, context: grpc.aio.ServicerContext
    ) -> integration_pb2.PutSourceResponse:
        secret = request.secret.strip()
        violations = nul_violations(request)
        violations += domain.validate_request(source=request.source, idempotency_key="", has_payload=True)
        violations += source_violations(secret=secret, mapping=dict(request.mapping), kind=request.kind)
        if violations:
            raise InvalidArgument(violations)
        async with self.runtime.db.transaction() as conn:
            row = await repository.put_source(
                conn, source=request.source, secret=secret or None, mapping=dict(request.mapping),
                kind=request.kind or DEFAULT_KIND,
            )
        return integration_pb2.PutSourceResponse(source=source_to_proto(row))

    async def GetSource(
        self, request: integration_pb2.GetSourceRequest, context: grpc.aio.ServicerContext
    ) -> integration_pb2.GetSourceResponse:
        async with self.runtime.db.connect() as conn:
            row = await repository.get_source(conn, source=request.source)
        if row is None:
            raise NotFound(f"source {request.source!r} is not configured")
        return integration_pb2.GetSourceResponse(source=source_to_proto(row))
