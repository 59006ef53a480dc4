"""A signed source's webhook: verify, store (rejected ones too), then capture; a repeated webhook-id creates nothing."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Row

from crm.integration.v1 import integration_pb2
from crm_common.errors import FieldViolation, InvalidArgument, json_violations
from crm_common.identity import Unauthenticated
from crm_common.metrics import WEBHOOKS_RECEIVED
from crm_common.service import Runtime
from integration_gateway import domain
from integration_gateway.capture import WebhookCapture
from integration_gateway.inbound import repository
from integration_gateway.inbound.domain import verify
from integration_gateway.tables import CAPTURED, RECEIVED, REJECTED

MAX_BODY_BYTES = 1_000_000


def _parsed(body: bytes) -> tuple[dict[str, Any] | None, str]:
    """The body as a JSON object, or None and why not."""
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None, "is not JSON"
    if not isinstance(value, dict):
        return None, "must be a JSON object"
    problems = json_violations(value)
    return (None, problems[0].description) if problems else (value, "")


async def receive_signed(
    runtime: Runtime, capture: WebhookCapture, request: integration_pb2.ReceiveWebhookRequest, config: Row
) -> tuple[Row, bool]:
    """Verify a signed webhook and capture it; raise Unauthenticated (after storing it as rejected) when it fails."""
    source, body = request.source, request.raw_body
    webhook_id = request.webhook_id.strip()
    violations = domain.validate_request(source=source, idempotency_key=webhook_id, has_payload=True)
    if len(body) > MAX_BODY_BYTES:
        violations.append(FieldViolation("body", f"at most {MAX_BODY_BYTES} bytes"))
    if violations:
        raise InvalidArgument(violations)
    payload, why = _parsed(body)
    # Kept as text for the operator who looks at a rejected or quarantined receipt; undecodable bytes replaced.
    raw = body.decode("utf-8", errors="replace").replace("\x00", "\ufffd")
    label = capture.source_label(source)
    problem = verify(
        secret=config.secret, body=body, webhook_id=webhook_id,
        timestamp=request.webhook_timestamp.strip(), signature=request.webhook_signature.strip(),
    )
    if problem is not None:
        async with runtime.db.transaction() as conn:
            await repository.insert_rejected(
                conn, source=source, raw_body=raw, webhook_id=webhook_id[:200] or None,
                payload=payload or {}, error=f"signature: {problem}",
            )
        WEBHOOKS_RECEIVED.labels(label, "unauthenticated").inc()
        raise Unauthenticated(f"webhook signature refused: {problem}")
    # Verified: stored under its webhook-id before anything else; a body that is no lead form is quarantined.
    async with runtime.db.transaction() as conn:
        receipt, created = await repository.insert_signed(
            conn, source=source, webhook_id=webhook_id, raw_body=raw, payload=payload or {},
            status=RECEIVED if payload is not None else REJECTED, error="" if payload is not None else f"body {why}",
        )
    if not created:
        WEBHOOKS_RECEIVED.labels(label, "duplicate").inc()
        return receipt, False
    if payload is None:
        WEBHOOKS_RECEIVED.labels(label, "quarantined").inc()
        raise InvalidArgument([FieldViolation("body", why)])
    if receipt.status == CAPTURED:
        return receipt, True
    return await capture.capture(receipt, mapping=config.mapping), True
