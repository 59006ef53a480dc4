"""ReceiveWebhook and GetWebhookReceipt through an in-process server, against a lead-service stand-in."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Any

import grpc
import pytest
from google.protobuf.struct_pb2 import Struct
from sqlalchemy import func, select

from crm.events.v1 import integration_events_pb2
from crm.integration.v1 import integration_pb2, integration_pb2_grpc
from crm_common.errors import FieldViolation, field_violations_of
from crm_common.service import Runtime
from integration_gateway.tables import webhook_receipts

from .conftest import LeadStandIn


def webhook(source: str, payload: dict[str, Any] | None, key: str = "") -> integration_pb2.ReceiveWebhookRequest:
    request = integration_pb2.ReceiveWebhookRequest(source=source, idempotency_key=key)
    if payload is not None:
        struct = Struct()
        struct.update(payload)
        request.payload.CopyFrom(struct)
    return request


def fresh_source() -> str:
    return f"src-{uuid.uuid4().hex[:10]}"


async def receipts_of(runtime: Runtime, source: str) -> list:
    async with runtime.db.connect() as conn:
        return list((await conn.execute(select(webhook_receipts).where(webhook_receipts.c.source == source))).all())


async def external_events(runtime: Runtime, receipt_id: str, *, expect: int = 1) -> list[integration_events_pb2.ExternalEventReceived]:
    """ExternalEventReceived events published for a receipt (waits until `expect` arrived, or 5 s)."""
    assert runtime.js is not None
    sub = await runtime.js.pull_subscribe("crm.integration.external_event_received", stream="CRM_INTEGRATION")
    found: list[integration_events_pb2.ExternalEventReceived] = []
    deadline = asyncio.get_running_loop().time() + 5
    try:
        while len(found) < expect and asyncio.get_running_loop().time() < deadline:
            with contextlib.suppress(TimeoutError):
                for msg in await sub.fetch(50, timeout=0.3):
                    event = integration_events_pb2.ExternalEventReceived.FromString(msg.data)
                    if event.receipt_id == receipt_id:
                        found.append(event)
    finally:
        await sub.unsubscribe()
    return found


async def test_webhook_is_stored_captured_and_announced(
    runtime: Runtime, lead: LeadStandIn, stub: integration_pb2_grpc.IntegrationServiceStub
) -> None:
    source = fresh_source()
    payload = {"姓名": "王伟", "手机": "13900001111", "公司": "某某科技", "utm_campaign": "spring"}
    response = await stub.ReceiveWebhook(webhook(source, payload, key="form-1"), timeout=5)

    assert response.created
    receipt = response.receipt
    assert (receipt.source, receipt.status, receipt.error) == (source, "captured", "")
    [request] = lead.requests
    assert request.idempotency_key == f"webhook:{source}:form-1"
    assert (request.lead.name, request.lead.phone, request.lead.company) == ("王伟", "13900001111", "某某科技")
    assert (request.lead.source.channel, request.lead.source.utm_source, request.lead.source.utm_campaign) == ("api", source, "spring")
    assert receipt.lead_id == lead.leads[request.idempotency_key]

    got = (await stub.GetWebhookReceipt(integration_pb2.GetWebhookReceiptRequest(receipt_id=receipt.id), timeout=5)).receipt
    assert got == receipt
    [stored] = await receipts_of(runtime, source)
    assert stored.payload == payload and stored.capture_attempts == 1
    [event] = await external_events(runtime, receipt.id)
    assert (event.source, event.lead_id) == (source, receipt.lead_id)
    assert event.received_at.seconds == receipt.received_at.seconds


async def test_repeat_with_same_key_returns_first_receipt_and_calls_lead_once(
    runtime: Runtime, lead: LeadStandIn, stub: integration_pb2_grpc.IntegrationServiceStub
) -> None:
    source = fresh_source()
    first = await stub.ReceiveWebhook(webhook(source, {"name": "A", "phone": "1"}, key="k"), timeout=5)
    again = await stub.ReceiveWebhook(webhook(source, {"name": "A", "phone": "1"}, key="k"), timeout=5)
    other_source = await stub.ReceiveWebhook(webhook(fresh_source(), {"name": "A", "phone": "1"}, key="k"), timeout=5)

    assert (first.created, again.created, other_source.created) == (True, False, True)
    assert again.receipt == first.receipt
    assert other_source.receipt.id != first.receipt.id
    assert lead.calls_with(f"webhook:{source}:k") == 1
    assert len(await receipts_of(runtime, source)) == 1


async def test_webhooks_without_key_are_each_kept_and_keyed_by_their_receipt(
    runtime: Runtime, lead: LeadStandIn, stub: integration_pb2_grpc.IntegrationServiceStub
) -> None:
    source = fresh_source()
    a = await stub.ReceiveWebhook(webhook(source, {"name": "A"}), timeout=5)
    b = await stub.ReceiveWebhook(webhook(source, {"name": "A"}), timeout=5)
    assert a.created and b.created and a.receipt.id != b.receipt.id
    assert [r.idempotency_key for r in lead.requests] == [f"webhook:{source}:{a.receipt.id}", f"webhook:{source}:{b.receipt.id}"]


async def test_rejected_lead_is_recorded_and_its_field_violations_propagate(
    runtime: Runtime, lead: LeadStandIn, stub: integration_pb2_grpc.IntegrationServiceStub
) -> None:
    source = fresh_source()
    lead.reject = [FieldViolation("lead.phone", "not a phone number"), FieldViolation("lead.name", "required")]
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.ReceiveWebhook(webhook(source, {"phone": "abc"}, key="bad"), timeout=5)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations_of(err.value) == lead.reject

    [stored] = await receipts_of(runtime, source)
    assert stored.status == "rejected" and stored.lead_id is None
    assert stored.error == "lead.phone: not a phone number; lead.name: required"

    # The repeat answers the same violations from the receipt, without asking the lead service again.
    with pytest.raises(grpc.aio.AioRpcError) as again:
        await stub.ReceiveWebhook(webhook(source, {"phone": "abc"}, key="bad"), timeout=5)
    assert field_violations_of(again.value) == lead.reject
    assert len(lead.requests) == 1


@pytest.mark.parametrize(
    ("request_", "fields"),
    [
        (webhook("Not A Slug", {"name": "A"}), ["source"]),
        (webhook("", {"name": "A"}), ["source"]),
        (webhook("site", None), ["payload"]),
        (webhook("site", {"name": "A"}, key="k" * 300), ["idempotency_key"]),
    ],
)
async def test_bad_requests_are_invalid_argument_and_store_nothing(
    runtime: Runtime, lead: LeadStandIn, stub: integration_pb2_grpc.IntegrationServiceStub,
    request_: integration_pb2.ReceiveWebhookRequest, fields: list[str],
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.ReceiveWebhook(request_, timeout=5)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in field_violations_of(err.value)] == fields
    assert lead.requests == []
    async with runtime.db.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(webhook_receipts).where(webhook_receipts.c.source == request_.source)) == 0


@pytest.mark.parametrize("receipt_id", [str(uuid.uuid4()), "nope", ""])
async def test_unknown_or_malformed_receipt_is_not_found(stub: integration_pb2_grpc.IntegrationServiceStub, receipt_id: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.GetWebhookReceipt(integration_pb2.GetWebhookReceiptRequest(receipt_id=receipt_id), timeout=5)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
