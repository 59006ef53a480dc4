"""A partner's Idempotency-Key is the partner's: against the real lead service, with verified identities."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import grpc
import pytest
import pytest_asyncio
from sqlalchemy import func, select

from crm.integration.v1 import integration_pb2_grpc
from crm.lead.v1 import lead_pb2, lead_pb2_grpc
from crm_common.errors import field_violations_of
from crm_common.grpc_client import channel_as
from crm_common.grpc_server import GrpcServer
from crm_common.identity import Role, user_principal
from crm_common.service import Runtime
from crm_common.settings import PeerAddresses
from lead.app import DEFINITION as LEAD
from lead.app import build as build_lead
from lead.tables import leads

from .test_webhooks import receipts_of, webhook


@pytest_asyncio.fixture
async def lead_service(service_runtime, runtime: Runtime) -> AsyncIterator[tuple[Runtime, str]]:
    """The lead service itself (own database and NATS), with this gateway pointed at it."""
    async with service_runtime(LEAD, resolve_timeout_seconds=0.5) as lead_runtime:
        lead_runtime.peers = PeerAddresses(customer_master_addr="127.0.0.1:1")  # nothing there: no customer
        server = GrpcServer(port=0, service_names=LEAD.grpc_services)
        (await build_lead(lead_runtime)).register(server.server)
        await server.start()
        address = f"127.0.0.1:{server.port}"
        before = runtime.peers
        runtime.peers = PeerAddresses(lead_addr=address)
        try:
            yield lead_runtime, address
        finally:
            runtime.peers = before
            await server.stop(0)


async def test_a_reps_webhook_shaped_key_does_not_take_the_partners_lead(
    runtime: Runtime, lead_service: tuple[Runtime, str], stub: integration_pb2_grpc.IntegrationServiceStub
) -> None:
    lead_runtime, address = lead_service
    source = f"acme-{uuid.uuid4().hex[:8]}"
    async with channel_as(address, user_principal(Role.SALES_REP, subject="apikey:rep-a")) as channel:
        squat = lead_pb2.CaptureLeadRequest(
            lead=lead_pb2.LeadInput(name="Rep", phone="13812345678", notes="the rep's own", source={"channel": "api"}),
            idempotency_key=f"webhook:{source}:k9",
        )
        squatted = await lead_pb2_grpc.LeadServiceStub(channel).CaptureLead(squat, timeout=10)

    payload = {"name": "Partner", "phone": "13700002222"}
    received = await stub.ReceiveWebhook(webhook(source, payload, key="k9"), timeout=10)

    assert received.receipt.status == "captured"
    assert received.receipt.lead_id and received.receipt.lead_id != squatted.lead.id
    async with lead_runtime.db.connect() as conn:
        phones = set((await conn.execute(select(leads.c.phone_e164))).scalars())
    assert phones == {"+8613812345678", "+8613700002222"}


async def test_the_same_key_with_another_payload_is_refused_naming_the_header(
    runtime: Runtime, lead_service: tuple[Runtime, str], stub: integration_pb2_grpc.IntegrationServiceStub
) -> None:
    lead_runtime, _ = lead_service
    source = f"acme-{uuid.uuid4().hex[:8]}"
    first = await stub.ReceiveWebhook(webhook(source, {"name": "A", "phone": "13700002222"}, key="k1"), timeout=10)
    again = await stub.ReceiveWebhook(webhook(source, {"phone": "13700002222", "name": "A"}, key="k1"), timeout=10)
    assert (again.receipt.id, again.created) == (first.receipt.id, False)

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.ReceiveWebhook(webhook(source, {"name": "B", "phone": "13700003333"}, key="k1"), timeout=10)

    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in field_violations_of(refused.value)] == ["Idempotency-Key"]
    assert len(await receipts_of(runtime, source)) == 1
    async with lead_runtime.db.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(leads)) == 1
