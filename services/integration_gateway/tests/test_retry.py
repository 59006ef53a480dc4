"""A lead-service outage loses no webhook: the receipt fails, and the retry job captures it once the service is back."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import grpc
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import Row, select

from crm.integration.v1 import integration_pb2, integration_pb2_grpc
from crm_common.service import Runtime
from crm_common.settings import PeerAddresses
from integration_gateway.capture import WebhookCapture
from integration_gateway.retry import StalledReceiptRetrier
from integration_gateway.settings import IntegrationSettings
from integration_gateway.tables import webhook_receipts

from .conftest import free_port, start_lead_stand_in
from .test_webhooks import external_events, webhook


def retrier(runtime: Runtime, **overrides: object) -> StalledReceiptRetrier:
    settings = runtime.settings.model_copy(update=overrides)
    assert isinstance(settings, IntegrationSettings)
    return StalledReceiptRetrier(runtime, WebhookCapture(runtime, settings), settings)


async def stored(runtime: Runtime, receipt_id: str) -> Row:
    async with runtime.db.connect() as conn:
        return (await conn.execute(select(webhook_receipts).where(webhook_receipts.c.id == uuid.UUID(receipt_id)))).one()


def webhooks_metric(source: str, outcome: str) -> float:
    return REGISTRY.get_sample_value("crm_webhooks_received_total", {"source": source, "outcome": outcome}) or 0.0


async def test_lead_outage_fails_the_receipt_and_the_retry_job_captures_it_later(
    runtime: Runtime, stub: integration_pb2_grpc.IntegrationServiceStub
) -> None:
    port = free_port()
    runtime.peers = PeerAddresses(lead_addr=f"127.0.0.1:{port}")
    source = f"down-{uuid.uuid4().hex[:8]}"  # not a configured metric source: counted as other
    failed_before = webhooks_metric("other", "failed")

    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.ReceiveWebhook(webhook(source, {"name": "Outage", "phone": "1"}, key="k1"), timeout=10)
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE
    async with runtime.db.connect() as conn:
        [receipt_id] = (await conn.scalars(select(webhook_receipts.c.id).where(webhook_receipts.c.source == source))).all()
    receipt = await stored(runtime, str(receipt_id))
    assert receipt.status == "failed" and receipt.error.startswith("UNAVAILABLE") and receipt.capture_attempts == 1
    got = (await stub.GetWebhookReceipt(integration_pb2.GetWebhookReceiptRequest(receipt_id=str(receipt_id)), timeout=5)).receipt
    assert (got.status, got.lead_id) == ("failed", "")
    assert webhooks_metric("other", "failed") == failed_before + 1 and webhooks_metric(source, "failed") == 0

    # The sender retries while the lead service is still down: same receipt, still not lost.
    with pytest.raises(grpc.aio.AioRpcError) as again:
        await stub.ReceiveWebhook(webhook(source, {"name": "Outage", "phone": "1"}, key="k1"), timeout=10)
    assert again.value.code() == grpc.StatusCode.UNAVAILABLE
    assert (await stored(runtime, str(receipt_id))).capture_attempts == 2

    # Still down: the job tries, records the failure and keeps the receipt; a young receipt is left alone.
    assert await retrier(runtime, webhook_retry_after_seconds=3600).retry_once() == 0
    assert (await stored(runtime, str(receipt_id))).capture_attempts == 2
    assert await retrier(runtime).retry_once() == 0
    assert (await stored(runtime, str(receipt_id))).capture_attempts == 3

    server, lead = await start_lead_stand_in(port)
    # Configured as a metric source, so the retry counts under its own name (other receipts it retries do not).
    job = asyncio.create_task(retrier(runtime, webhook_retry_interval_seconds=0.2, metric_webhook_sources=[source]).run())
    try:
        deadline = asyncio.get_running_loop().time() + 10
        while (await stored(runtime, str(receipt_id))).status != "captured":
            assert asyncio.get_running_loop().time() < deadline, "the retry job did not capture the webhook"
            await asyncio.sleep(0.1)
    finally:
        job.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await job
        await server.stop(0)

    receipt = await stored(runtime, str(receipt_id))
    key = f"webhook:{source}:k1"
    assert lead.calls_with(key) == 1
    assert receipt.lead_id == lead.leads[key] and receipt.error == ""
    assert webhooks_metric(source, "retry_captured") == 1
    [event] = await external_events(runtime, str(receipt_id))
    assert event.lead_id == receipt.lead_id
