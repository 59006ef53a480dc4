"""Inbound webhooks: any JSON object from a named source, handed to the integration service."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Response
from google.protobuf import struct_pb2

from crm.integration.v1 import integration_pb2
from gateway import convert, schemas
from gateway.api.deps import (
    IdempotencyKeyDep,
    IntegrationClientDep,
    WebhookSendDep,
)
from gateway.core.errors import FieldError, Problem
from gateway.core.peers import CALL_DEADLINE_SECONDS

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

# protobuf refuses to parse messages nested deeper than 100 levels; refuse well before, as bad input.
MAX_DEPTH = 32


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


@router.post(
    "/{source}",
    status_code=201,
    response_model=schemas.WebhookReceiptOut,
    responses={200: {"model": schemas.WebhookReceiptOut, "description": "A repeat of an earlier Idempotency-Key"}},
)
async def receive_webhook(
    source: Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$", description="The sending system.")],
    payload: Annotated[dict[str, Any], Body(description="The webhook's JSON object, as the source sent it.")],
    response: Response,
    _caller: WebhookSendDep,
    integration_client: IntegrationClientDep,
    idempotency_key: IdempotencyKeyDep = None,
) -> schemas.WebhookReceiptOut:
    """Receive a webhook; the integration service maps it to a lead and records a receipt."""
    if _depth(payload) > MAX_DEPTH:
        raise Problem(422, "the body is nested too deeply", errors=[FieldError("body", f"more than {MAX_DEPTH} levels")])
    struct = struct_pb2.Struct()
    struct.update(payload)
    reply = await integration_client.ReceiveWebhook(
        integration_pb2.ReceiveWebhookRequest(source=source, payload=struct, idempotency_key=idempotency_key or ""),
        timeout=CALL_DEADLINE_SECONDS,
    )
    response.status_code = 201 if reply.created else 200
    return convert.receipt(reply)
