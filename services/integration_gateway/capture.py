"""Hand one stored webhook to the lead service and record what it answered."""

from __future__ import annotations

import logging
from datetime import datetime

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import Row

from crm.events.v1 import integration_events_pb2
from crm.lead.v1 import lead_pb2, lead_pb2_grpc
from crm_common.errors import FieldViolation, InvalidArgument, Unavailable, field_violations_of
from crm_common.identity import IDEMPOTENCY_SCOPE_METADATA_KEY
from crm_common.metrics import WEBHOOKS_RECEIVED, bounded_label
from crm_common.service import Runtime
from integration_gateway import domain, repository
from integration_gateway.inbound import repository as inbound_repository
from integration_gateway.inbound.domain import apply_mapping
from integration_gateway.settings import IntegrationSettings

log = logging.getLogger(__name__)


def _timestamp(at: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(at)
    return ts


class WebhookCapture:
    """Turns stored receipts into leads through the lead service's CaptureLead."""

    def __init__(self, runtime: Runtime, settings: IntegrationSettings) -> None:
        self.runtime = runtime
        self.deadline = settings.lead_capture_timeout_seconds
        self.metric_sources = frozenset(settings.metric_webhook_sources)

    def source_label(self, source: str) -> str:
        """The source as a metric label: its name when configured, else other (a partner picks its own name)."""
        return bounded_label(source, self.metric_sources)

    async def capture(self, receipt: Row, *, retry: bool = False, mapping: dict[str, str] | None = None) -> Row:
        """Capture the receipt's lead (idempotently, keyed by the receipt) and return the updated receipt.

        Raises InvalidArgument with the lead service's field violations when it refuses the content, and
        Unavailable when it cannot be reached; either way the outcome is recorded on the receipt first.
        """
        outcome = "retry_{}" if retry else "{}"
        if mapping is None:  # a retry: the source's mapping as it is now
            async with self.runtime.db.connect() as conn:
                config = await inbound_repository.get_source(conn, source=receipt.source)
            mapping = config.mapping if config is not None else {}
        payload = apply_mapping(receipt.payload, mapping)
        request = lead_pb2.CaptureLeadRequest(
            lead=domain.lead_input_from_payload(payload, source=receipt.source),
            idempotency_key=domain.capture_key(
                source=receipt.source, idempotency_key=receipt.idempotency_key, receipt_id=str(receipt.id)
            ),
        )
        stub = lead_pb2_grpc.LeadServiceStub(self.runtime.channel(self.runtime.peers.lead_addr))
        try:
            # The source is the scope of its keys at the lead service: a person's key never meets a partner's.
            scope = ((IDEMPOTENCY_SCOPE_METADATA_KEY, f"webhook:{receipt.source}"),)
            response = await stub.CaptureLead(request, timeout=self.deadline, metadata=scope)
        except grpc.aio.AioRpcError as err:
            if err.code() == grpc.StatusCode.INVALID_ARGUMENT:
                violations = field_violations_of(err) or [FieldViolation("payload", err.details() or "rejected")]
                async with self.runtime.db.transaction() as conn:
                    await repository.mark_rejected(
                        conn, receipt_id=receipt.id, violations=violations, error=domain.violations_text(violations)
                    )
                WEBHOOKS_RECEIVED.labels(self.source_label(receipt.source), outcome.format("rejected")).inc()
                raise InvalidArgument(violations) from None
            error = f"{err.code().name}: {err.details()}"
            async with self.runtime.db.transaction() as conn:
                await repository.mark_failed(conn, receipt_id=receipt.id, error=error)
            WEBHOOKS_RECEIVED.labels(self.source_label(receipt.source), outcome.format("failed")).inc()
            log.warning("webhook %s not captured, will retry: %s", receipt.id, error, extra={"receipt_id": str(receipt.id)})
            raise Unavailable(f"lead service unavailable ({err.code().name}); webhook {receipt.id} is kept and retried") from None

        async with self.runtime.db.transaction() as conn:
            captured = await repository.mark_captured(conn, receipt_id=receipt.id, lead_id=response.lead.id)
            if captured is not None:
                await self.runtime.stage(
                    conn,
                    "crm.integration.external_event_received",
                    integration_events_pb2.ExternalEventReceived(
                        receipt_id=str(captured.id),
                        source=captured.source,
                        lead_id=captured.lead_id,
                        received_at=_timestamp(captured.received_at),
                    ),
                )
        if captured is not None:
            WEBHOOKS_RECEIVED.labels(self.source_label(receipt.source), outcome.format("captured")).inc()
            return captured
        # A racing call (a repeat, or the retry job) captured it first and announced it.
        async with self.runtime.db.connect() as conn:
            current = await repository.get_receipt(conn, receipt_id=receipt.id)
        if current is None:
            raise RuntimeError(f"webhook receipt {receipt.id} vanished")
        return current
