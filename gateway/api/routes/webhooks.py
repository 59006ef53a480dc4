"""Inbound webhooks: any JSON object from a named source, handed to the integration service."""

from __future__ import annotations

from typing import Annotated, Any

import grpc
from fastapi import APIRouter, Body, Header, Path, Request, Response
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
from gateway.core.security import SIGNED_WEBHOOK_CALLER, UNAUTHENTICATED_HEADERS

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
    responses={
        200: {"model": schemas.WebhookReceiptOut, "description": "A repeat of an earlier Idempotency-Key or webhook-id"},
        401: {"description": "A signed source's signature is missing, wrong or more than 300 s old (stored as rejected)"},
    },
)
async def receive_webhook(
    source: Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$", description="The sending system.")],
    payload: Annotated[dict[str, Any], Body(description="The webhook's JSON object, as the source sent it.")],
    request: Request,
    response: Response,
    caller: WebhookSendDep,
    integration_client: IntegrationClientDep,
    idempotency_key: IdempotencyKeyDep = None,
    webhook_id: Annotated[str | None, Header(alias="webhook-id", max_length=200)] = None,
    webhook_timestamp: Annotated[str | None, Header(alias="webhook-timestamp", max_length=20)] = None,
    webhook_signature: Annotated[str | None, Header(alias="webhook-signature", max_length=2000)] = None,
) -> schemas.WebhookReceiptOut:
    """Receive a webhook; the integration service maps it to a lead and records a receipt.

    A source configured with a secret signs per Standard Webhooks (no API key needed); others send an API key.
    """
    if _depth(payload) > MAX_DEPTH:
        raise Problem(422, "the body is nested too deeply", errors=[FieldError("body", f"more than {MAX_DEPTH} levels")])
    struct = struct_pb2.Struct()
    struct.update(payload)
    message = integration_pb2.ReceiveWebhookRequest(
        source=source, payload=struct, idempotency_key=idempotency_key or ""
    )
    if webhook_signature or caller is SIGNED_WEBHOOK_CALLER:
        # The bytes as sent: the signature covers them, not our parse of them.
        message.raw_body = await request.body()
        message.webhook_id = webhook_id or ""
        message.webhook_timestamp = webhook_timestamp or ""
        message.webhook_signature = webhook_signature or ""
        message.unauthenticated = caller is SIGNED_WEBHOOK_CALLER
    try:
        reply = await integration_client.ReceiveWebhook(message, timeout=CALL_DEADLINE_SECONDS)
    except grpc.aio.AioRpcError as err:
        if err.code() is grpc.StatusCode.UNAUTHENTICATED:
            raise Problem(401, err.details() or "webhook not authenticated", headers=UNAUTHENTICATED_HEADERS) from None
        raise
    response.status_code = 201 if reply.created else 200
    return convert.receipt(reply)
