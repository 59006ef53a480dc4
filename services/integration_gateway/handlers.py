"""gRPC IntegrationService: receive webhooks (store first, then capture) and report on their receipts."""

from __future__ import annotations

import uuid

import grpc
from google.protobuf import json_format
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import Row

from crm.integration.v1 import integration_pb2, integration_pb2_grpc
from crm_common.errors import FieldViolation, InvalidArgument, NotFound
from crm_common.identity import Unauthenticated
from crm_common.metrics import WEBHOOKS_RECEIVED
from crm_common.service import Runtime
from integration_gateway import access, domain, repository
from integration_gateway.capture import WebhookCapture
from integration_gateway.dependencies.handlers import DependencyContext, DependencyHandlers
from integration_gateway.inbound import repository as inbound_repository
from integration_gateway.inbound.handlers import SourceHandlers
from integration_gateway.inbound.receive import receive_signed
from integration_gateway.outbound.handlers import OutboundContext, SubscriptionHandlers
from integration_gateway.tables import CAPTURED, RECEIVED, REJECTED


def receipt_to_proto(row: Row) -> integration_pb2.WebhookReceipt:
    received_at = Timestamp()
    received_at.FromDatetime(row.received_at)
    return integration_pb2.WebhookReceipt(
        id=str(row.id),
        source=row.source,
        lead_id=row.lead_id or "",
        status=row.status,
        error=row.error,
        received_at=received_at,
        webhook_id=row.webhook_id or "",
    )


@access.guarded
class IntegrationServicer(
    SourceHandlers, SubscriptionHandlers, DependencyHandlers, integration_pb2_grpc.IntegrationServiceServicer
):
    """Translates IntegrationService calls to receipts and lead captures."""

    def __init__(
        self, runtime: Runtime, capture: WebhookCapture, outbound: OutboundContext, dependencies: DependencyContext
    ) -> None:
        self.runtime = runtime
        self.capture = capture
        self.outbound = outbound
        self.dependencies = dependencies

    async def ReceiveWebhook(
        self, request: integration_pb2.ReceiveWebhookRequest, context: grpc.aio.ServicerContext
    ) -> integration_pb2.ReceiveWebhookResponse:
        source, key = request.source, request.idempotency_key.strip()
        config = None
        if domain.SOURCE_PATTERN.fullmatch(source):
            async with self.runtime.db.connect() as conn:
                config = await inbound_repository.get_source(conn, source=source)
        if config is not None and config.secret:
            receipt, created = await receive_signed(self.runtime, self.capture, request, config)
            return integration_pb2.ReceiveWebhookResponse(receipt=receipt_to_proto(receipt), created=created)
        if request.unauthenticated:
            raise Unauthenticated(f"source {source!r} does not sign its webhooks: an API key is required")
        violations = domain.validate_request(source=source, idempotency_key=key, has_payload=request.HasField("payload"))
        violations += domain.payload_violations(request.payload)
        if violations:
            raise InvalidArgument(violations)
        payload = json_format.MessageToDict(request.payload)
        # Committed on its own before anything else happens: whatever follows, the webhook is not lost.
        async with self.runtime.db.transaction() as conn:
            receipt, created = await repository.insert_receipt(
                conn, source=source, idempotency_key=key or None, payload=payload, status=RECEIVED
            )
        if not created and receipt.payload != payload:
            raise InvalidArgument([FieldViolation("Idempotency-Key", domain.KEY_REUSED)])
        if not created and receipt.status == CAPTURED:
            WEBHOOKS_RECEIVED.labels(self.capture.source_label(source), "duplicate").inc()
            return integration_pb2.ReceiveWebhookResponse(receipt=receipt_to_proto(receipt), created=False)
        if not created and receipt.status == REJECTED:
            WEBHOOKS_RECEIVED.labels(self.capture.source_label(source), "duplicate").inc()
            raise InvalidArgument(repository.violations_of(receipt))
        receipt = await self.capture.capture(receipt, mapping=config.mapping if config is not None else {})
        return integration_pb2.ReceiveWebhookResponse(receipt=receipt_to_proto(receipt), created=created)

    async def GetWebhookReceipt(
        self, request: integration_pb2.GetWebhookReceiptRequest, context: grpc.aio.ServicerContext
    ) -> integration_pb2.GetWebhookReceiptResponse:
        try:
            receipt_id = uuid.UUID(request.receipt_id)
        except ValueError:
            # A malformed id names no receipt; callers treat both the same way.
            raise NotFound(f"webhook receipt {request.receipt_id!r} not found") from None
        async with self.runtime.db.connect() as conn:
            receipt = await repository.get_receipt(conn, receipt_id=receipt_id)
        if receipt is None:
            raise NotFound(f"webhook receipt {request.receipt_id} not found")
        return integration_pb2.GetWebhookReceiptResponse(receipt=receipt_to_proto(receipt))
