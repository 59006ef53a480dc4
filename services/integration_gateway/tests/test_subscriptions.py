"""Subscriptions end to end on real PostgreSQL and NATS: signed ordered deliveries, retries, 410, dead letters, SSRF."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import select
from standardwebhooks import Webhook

from crm.events.v1 import customer_events_pb2
from crm.integration.v1 import integration_pb2, integration_pb2_grpc
from crm_common.egress import EgressGuard
from crm_common.errors import field_violations_of
from crm_common.service import Runtime
from integration_gateway.outbound import repository
from integration_gateway.outbound.dispatcher import DeliveryDispatcher
from integration_gateway.tables import deliveries
from integration_gateway.tests.receiver import Receiver, eventually

pytestmark = pytest.mark.asyncio(loop_scope="session")
Stub = integration_pb2_grpc.IntegrationServiceStub


async def subscribe(stub: Stub, url: str, events: list[str]) -> integration_pb2.Subscription:
    return (await stub.CreateSubscription(integration_pb2.CreateSubscriptionRequest(url=url, events=events))).subscription


async def customer_event(runtime: Runtime, customer_id: str, subject: str = "crm.customer.updated") -> str:
    """An event on the bus as customer-master would publish it (through an outbox and the relay)."""
    message: Any = (
        customer_events_pb2.CustomerUpdated(customer_id=customer_id, field="name")
        if subject == "crm.customer.updated"
        else customer_events_pb2.CustomerCreated(customer_id=customer_id)
    )
    async with runtime.db.transaction() as conn:
        return await runtime.stage(conn, subject, message)


async def statuses(runtime: Runtime, subscription_id: str) -> list[str]:
    async with runtime.db.connect() as conn:
        rows = await conn.execute(
            select(deliveries.c.status).where(deliveries.c.subscription_id == uuid.UUID(subscription_id))
            .order_by(deliveries.c.seq)
        )
        return list(rows.scalars())


async def test_a_delivery_is_signed_json_whose_webhook_id_is_the_event_id(stack, receiver: Receiver) -> None:
    runtime, stub = stack
    sub = await subscribe(stub, receiver.url, ["customer.*"])
    assert sub.secret.startswith("whsec_") and sub.status == "active"
    assert (await stub.GetSubscription(integration_pb2.GetSubscriptionRequest(id=sub.id))).subscription.secret == ""
    customer = str(uuid.uuid4())
    event_id = await customer_event(runtime, customer, "crm.customer.created")

    async def arrived() -> bool:
        return len(receiver.received) == 1
    await eventually(arrived)
    got = receiver.received[0]
    Webhook(sub.secret).verify(got.body, got.headers)
    body = got.json()
    assert got.headers["webhook-id"] == body["id"] == event_id
    assert body["type"] == "customer.created" and body["data"]["customer_id"] == customer and body["timestamp"]
    await eventually(lambda: _is(statuses(runtime, sub.id), ["succeeded"]))


async def _is(awaitable: Any, expected: Any) -> bool:
    return await awaitable == expected


async def test_a_receiver_down_then_back_gets_each_event_once_in_order(stack, receiver: Receiver) -> None:
    runtime, stub = stack
    sub = await subscribe(stub, receiver.url, ["customer.updated"])
    receiver.script = [(500, {}), (503, {"retry-after": "0"}), (502, {})]
    customer = str(uuid.uuid4())
    ids = [await customer_event(runtime, customer) for _ in range(3)]
    await eventually(lambda: _is(statuses(runtime, sub.id), ["succeeded"] * 3))
    order = [r.headers["webhook-id"] for r in receiver.received]
    # The first event is tried until it gets through; the others wait behind it and then go once each.
    assert order == [ids[0]] * 4 + ids[1:]
    listed = await stub.ListDeliveries(integration_pb2.ListDeliveriesRequest(subscription_id=sub.id, status="succeeded"))
    assert sorted(d.attempts for d in listed.deliveries) == [1, 1, 4]


async def test_exhausted_deliveries_are_dead_letters_to_list_replay_and_recover(stack, receiver: Receiver) -> None:
    runtime, stub = stack
    sub = await subscribe(stub, receiver.url, ["customer.updated"])
    receiver.script = [(500, {})] * 8
    first = await customer_event(runtime, str(uuid.uuid4()))
    second = await customer_event(runtime, str(uuid.uuid4()))
    await eventually(lambda: _is(statuses(runtime, sub.id), ["failed", "failed"]))
    dead = (await stub.ListDeliveries(
        integration_pb2.ListDeliveriesRequest(subscription_id=sub.id, status="failed")
    )).deliveries
    assert {d.event_id for d in dead} == {first, second} and all(d.attempts == 4 for d in dead)
    assert all(d.last_status_code == 500 for d in dead)
    replayed = await stub.ReplayDelivery(integration_pb2.ReplayDeliveryRequest(subscription_id=sub.id, delivery_id=dead[0].id))
    assert replayed.delivery.status == "pending"
    await eventually(lambda: _is(_count(runtime, sub.id, "succeeded"), 1))
    since = Timestamp()
    since.FromDatetime(datetime.now(UTC) - timedelta(hours=1))
    recovered = await stub.RecoverDeliveries(integration_pb2.RecoverDeliveriesRequest(subscription_id=sub.id, since=since))
    assert recovered.requeued == 1
    await eventually(lambda: _is(statuses(runtime, sub.id), ["succeeded", "succeeded"]))


async def _count(runtime: Runtime, subscription_id: str, status: str) -> int:
    return (await statuses(runtime, subscription_id)).count(status)


async def test_410_gone_disables_the_endpoint(stack, receiver: Receiver) -> None:
    runtime, stub = stack
    sub = await subscribe(stub, receiver.url, ["customer.updated"])
    receiver.script = [(410, {})]
    await customer_event(runtime, str(uuid.uuid4()))
    await eventually(lambda: _is(statuses(runtime, sub.id), ["failed"]))
    got = (await stub.GetSubscription(integration_pb2.GetSubscriptionRequest(id=sub.id))).subscription
    assert got.status == "disabled" and "410" in got.disabled_reason
    # A gone endpoint is sent nothing more: a later event reaches another subscriber and not it.
    witness = await subscribe(stub, receiver.url, ["customer.updated"])
    await customer_event(runtime, str(uuid.uuid4()))
    await eventually(lambda: _is(statuses(runtime, witness.id), ["succeeded"]))
    assert await statuses(runtime, sub.id) == ["failed"] and len(receiver.received) == 2


async def test_retry_after_of_a_429_is_honoured(stack, receiver: Receiver) -> None:
    runtime, stub = stack
    sub = await subscribe(stub, receiver.url, ["customer.updated"])
    receiver.script = [(429, {"retry-after": "3600"})]
    await customer_event(runtime, str(uuid.uuid4()))

    async def retried() -> bool:
        async with runtime.db.connect() as conn:
            row = (await conn.execute(
                select(deliveries).where(deliveries.c.subscription_id == uuid.UUID(sub.id))
            )).first()
        return row is not None and row.attempts == 1
    await eventually(retried)
    async with runtime.db.connect() as conn:
        row = (await conn.execute(select(deliveries).where(deliveries.c.subscription_id == uuid.UUID(sub.id)))).one()
    assert row.status == "pending" and row.last_status_code == 429
    assert row.next_attempt_at - row.created_at >= timedelta(seconds=3500)


async def test_after_rotation_both_secrets_sign(stack, receiver: Receiver) -> None:
    runtime, stub = stack
    sub = await subscribe(stub, receiver.url, ["customer.updated"])
    rotated = (await stub.RotateSubscriptionSecret(
        integration_pb2.RotateSubscriptionSecretRequest(id=sub.id, overlap_seconds=600)
    )).subscription
    assert rotated.secret != sub.secret and rotated.HasField("previous_secret_until")
    await customer_event(runtime, str(uuid.uuid4()))
    await eventually(lambda: _is(statuses(runtime, sub.id), ["succeeded"]))
    got = receiver.received[-1]
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    for secret in (sub.secret, rotated.secret):
        Webhook(secret).verify(got.body, got.headers)


@pytest.mark.parametrize("url", [
    "http://127.0.0.1/h", "http://localhost:8080/h", "http://10.1.2.3/h", "http://192.168.1.1/h",
    "http://172.16.0.1/h", "http://169.254.169.254/latest/meta-data", "http://100.64.0.1/h", "http://[::1]/h",
    "http://[fd00::1]/h", "http://[fe80::1]/h", "http://0.0.0.0/h", "ftp://example.com/h", "https://u:p@example.com/h",
])
async def test_internal_destinations_are_refused_naming_url(stub: Stub, url: str) -> None:
    # The package's runtime allows no network: production's default.
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await subscribe(stub, url, ["lead.*"])
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in field_violations_of(err.value)] == ["url"]


async def test_a_name_that_rebinds_to_loopback_after_the_check_gets_nothing(stack, receiver: Receiver) -> None:
    runtime, _ = stack
    answers = iter([["93.184.216.34"], ["127.0.0.1"]])

    async def rebinding(host: str, port: int) -> list[str]:
        return next(answers, ["127.0.0.1"])

    guard = EgressGuard(resolver=rebinding)
    url = f"http://rebind.example:{receiver.port}/hook"
    assert await guard.url_problem(url) is None  # public when the subscription is saved
    async with runtime.db.transaction() as conn:
        sub = await repository.insert_subscription(conn, url=url, events=["customer.created"], description="", secret="whsec_" + "a" * 43)
        await conn.execute(deliveries.insert().values(
            id=uuid.uuid4(), subscription_id=sub.id, event_id=f"e-{uuid.uuid4()}", type="customer.created",
            ordering_key="k", body="{}", status="pending",
        ))
    dispatcher = DeliveryDispatcher(runtime.db, runtime.settings.model_copy(update={"delivery_batch": 500}), guard)
    before = len(receiver.received)
    await eventually(lambda: _refused(runtime, dispatcher, sub.id))
    assert len(receiver.received) == before
    await dispatcher.client.aclose()


async def _refused(runtime: Runtime, dispatcher: DeliveryDispatcher, subscription_id: uuid.UUID) -> bool:
    await dispatcher.dispatch_once()
    async with runtime.db.connect() as conn:
        row = (await conn.execute(select(deliveries).where(deliveries.c.subscription_id == subscription_id))).one()
    return "destination refused" in row.last_error and "loopback" in row.last_error
