"""Continuous senders per customer queue, two replicas at once: each event once, in order per customer."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import pytest

from integration_gateway.outbound.dispatcher import DeliveryDispatcher
from integration_gateway.tests.receiver import Receiver, eventually
from integration_gateway.tests.test_subscriptions import _is, customer_event, statuses, subscribe

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_two_replicas_send_each_delivery_once_and_each_customer_in_order(stack, receiver: Receiver) -> None:
    runtime, stub = stack
    # A second replica beside the stack's own dispatcher, on the same database.
    replica = DeliveryDispatcher(runtime.db, runtime.settings, runtime.settings.egress_guard())
    other = asyncio.create_task(replica.run())
    try:
        sub = await subscribe(stub, receiver.url, ["customer.updated"])
        # The very first request fails: its customer's later events must wait behind its retry.
        receiver.script = [(500, {})]
        customers = [str(uuid.uuid4()) for _ in range(5)]
        published: dict[str, list[str]] = {c: [] for c in customers}
        for _ in range(6):
            for c in customers:
                published[c].append(await customer_event(runtime, c))
                replica.wake()
        await eventually(lambda: _is(statuses(runtime, sub.id), ["succeeded"] * 30))
    finally:
        other.cancel()
        await asyncio.gather(other, return_exceptions=True)
    ids = [r.headers["webhook-id"] for r in receiver.received]
    customer_of = {e: c for c, events in published.items() for e in events}
    # Every event arrived; only the one that got the 500 arrived twice.
    assert Counter(ids) == Counter({e: 1 for e in customer_of}) + Counter([ids[0]])
    for c, events in published.items():
        arrived = [e for e in ids if customer_of[e] == c]
        in_order = [e for i, e in enumerate(arrived) if i == 0 or arrived[i - 1] != e]
        assert in_order == events
