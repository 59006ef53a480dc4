"""Signed sources: configuration checks, Standard Webhooks verification, receipts stored whatever happens."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from sqlalchemy import select
from standardwebhooks import Webhook

from crm.integration.v1 import integration_pb2
from crm_common.errors import field_violations_of
from crm_common.service import Runtime
from integration_gateway.tables import webhook_receipts
from integration_gateway.tests.conftest import LeadStandIn

SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()
pytestmark = pytest.mark.asyncio(loop_scope="session")


def signed(source: str, body: dict, *, secret: str = SECRET, at: datetime | None = None, webhook_id: str | None = None):
    raw = json.dumps(body).encode()
    wid = webhook_id or f"msg_{uuid.uuid4().hex}"
    at = at or datetime.now(UTC)
    return integration_pb2.ReceiveWebhookRequest(
        source=source, raw_body=raw, webhook_id=wid, webhook_timestamp=str(int(at.timestamp())),
        webhook_signature=Webhook(secret).sign(wid, at, raw), unauthenticated=True,
    )


async def configure(stub, source: str, **mapping: str) -> None:
    await stub.PutSource(integration_pb2.PutSourceRequest(source=source, secret=SECRET, mapping=mapping, kind="partner"))


async def receipts_of(runtime: Runtime, source: str) -> list:
    async with runtime.db.connect() as conn:
        return (await conn.execute(select(webhook_receipts).where(webhook_receipts.c.source == source))).all()


async def test_bad_configuration_is_refused_naming_each_field(stub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.PutSource(integration_pb2.PutSourceRequest(
            source="cfg-bad", secret="plaintext", mapping={"nmae": "a", "phone": "a..b"}, kind="fax",
        ))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    fields = {v.field for v in field_violations_of(err.value)}
    assert fields == {"secret", "kind", "mapping.nmae", "mapping.phone"}
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await stub.GetSource(integration_pb2.GetSourceRequest(source="cfg-bad"))
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND


async def test_a_signed_webhook_is_captured_through_its_mapping(stub, runtime: Runtime, lead: LeadStandIn) -> None:
    await configure(stub, "signed-ok", name="person.full", phone="person.tel")
    source = (await stub.GetSource(integration_pb2.GetSourceRequest(source="signed-ok"))).source
    assert source.signed and source.mapping["phone"] == "person.tel" and source.kind == "partner"
    request = signed("signed-ok", {"person": {"full": "王芳", "tel": "13800138000"}})
    reply = await stub.ReceiveWebhook(request)
    assert reply.created and reply.receipt.status == "captured" and reply.receipt.webhook_id == request.webhook_id
    assert lead.requests[-1].lead.name == "王芳" and lead.requests[-1].lead.phone == "13800138000"


async def test_a_repeated_webhook_id_answers_the_first_receipt_whatever_its_body(stub, lead: LeadStandIn) -> None:
    await configure(stub, "signed-repeat")
    first = await stub.ReceiveWebhook(signed("signed-repeat", {"name": "A", "phone": "13800138001"}, webhook_id="msg_1"))
    again = await stub.ReceiveWebhook(signed("signed-repeat", {"name": "B", "phone": "13900139000"}, webhook_id="msg_1"))
    assert not again.created and again.receipt.id == first.receipt.id
    assert len([r for r in lead.requests if r.lead.name in ("A", "B")]) == 1


@pytest.mark.parametrize(
    "tamper",
    ["signature", "stale", "future", "missing", "other-secret"],
)
async def test_a_bad_signature_is_unauthenticated_and_stored_as_rejected(
    stub, runtime: Runtime, lead: LeadStandIn, tamper: str
) -> None:
    source = f"signed-bad-{tamper}"
    await configure(stub, source)
    body = {"name": "Mallory", "phone": "13800138002"}
    if tamper == "stale":
        request = signed(source, body, at=datetime.now(UTC) - timedelta(seconds=301))
    elif tamper == "future":
        request = signed(source, body, at=datetime.now(UTC) + timedelta(seconds=301))
    elif tamper == "other-secret":
        request = signed(source, body, secret="whsec_" + base64.b64encode(b"x" * 32).decode())
    else:
        request = signed(source, body)
        if tamper == "signature":
            request.raw_body = json.dumps({**body, "name": "Eve"}).encode()
        else:
            request.webhook_signature = ""
    calls = len(lead.requests)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.ReceiveWebhook(request)
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    [receipt] = await receipts_of(runtime, source)
    assert receipt.status == "rejected" and receipt.error.startswith("signature:")
    assert receipt.raw_body == request.raw_body.decode() and receipt.idempotency_key is None
    assert len(lead.requests) == calls
    # A refused webhook claims nothing: the genuine one with its id still gets in.
    if tamper == "signature":
        good = signed(source, body, webhook_id=request.webhook_id)
        assert (await stub.ReceiveWebhook(good)).created


async def test_a_verified_body_that_is_no_object_is_quarantined_not_dropped(stub, runtime: Runtime) -> None:
    await configure(stub, "signed-list")
    request = signed("signed-list", {})
    request.raw_body = b"[1, 2]"
    request.webhook_signature = Webhook(SECRET).sign(request.webhook_id, datetime.now(UTC), request.raw_body)
    request.webhook_timestamp = str(int(datetime.now(UTC).timestamp()))
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.ReceiveWebhook(request)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in field_violations_of(err.value)] == ["body"]
    [receipt] = await receipts_of(runtime, "signed-list")
    assert receipt.raw_body == "[1, 2]" and receipt.status == "rejected"


async def test_a_signed_source_refuses_unsigned_calls_and_unsigned_sources_need_a_key(stub, lead: LeadStandIn) -> None:
    await configure(stub, "signed-only")
    payload = integration_pb2.ReceiveWebhookRequest(source="signed-only", idempotency_key="k1")
    payload.payload.update({"name": "A", "phone": "13800138003"})
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.ReceiveWebhook(payload)
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    anonymous = integration_pb2.ReceiveWebhookRequest(source="unsigned-src", unauthenticated=True)
    anonymous.payload.update({"name": "A", "phone": "13800138003"})
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.ReceiveWebhook(anonymous)
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
