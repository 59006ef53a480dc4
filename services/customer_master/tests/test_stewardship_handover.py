"""A rep's departure, as the event the lead service publishes, hands the rep's accounts over."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator

import pytest_asyncio

from crm.customer.v1 import customer_pb2, customer_pb2_grpc
from crm.events.v1 import lead_events_pb2
from crm_common.bus.consumer import DurableConsumer
from crm_common.service import Runtime
from customer_master.app import DEFINITION
from customer_master.consumers import CONSUMERS, REP_DEACTIVATED
from customer_master.tests.test_stewardship import resolve, unique_name

Stub = customer_pb2_grpc.CustomerServiceStub


@pytest_asyncio.fixture(loop_scope="session")
async def consuming(runtime: Runtime) -> AsyncIterator[Runtime]:
    """The service's durable consumers running against its NATS, as `serve` runs them."""
    assert runtime.js is not None
    consumers = [
        DurableConsumer(spec, db=runtime.db, inbox=DEFINITION.inbox, js=runtime.js, max_deliver=3) for spec in CONSUMERS
    ]
    tasks = [asyncio.create_task(c.run()) for c in consumers]
    yield runtime
    for c in consumers:
        c.stop()
    for task in tasks:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 5)


async def accounts_of(stub: Stub, steward: str, count: int) -> list[str]:
    ids = []
    for _ in range(count):
        created = await resolve(stub, company=unique_name() + "有限公司")
        await stub.UpdateCustomerField(
            customer_pb2.UpdateCustomerFieldRequest(customer_id=created.customer.id, field="steward_id", value=steward),
            timeout=5,
        )
        ids.append(created.customer.id)
    return ids


async def depart(runtime: Runtime, rep_id: str, successor_id: str = "", manager_id: str = "") -> None:
    async with runtime.db.transaction() as conn:
        await runtime.stage(
            conn,
            REP_DEACTIVATED,
            lead_events_pb2.RepDeactivated(rep_id=rep_id, successor_id=successor_id, manager_id=manager_id),
        )


async def wait_for(stub: Stub, customer_id: str, check: object) -> customer_pb2.Customer:
    """The customer once check(customer) holds, or as it is after 15 s (the caller's assert then fails)."""
    deadline = asyncio.get_running_loop().time() + 15.0
    while True:
        got = (await stub.GetCustomer(customer_pb2.GetCustomerRequest(customer_id=customer_id), timeout=5)).customer
        if check(got) or asyncio.get_running_loop().time() > deadline:  # type: ignore[operator]
            return got
        await asyncio.sleep(0.1)


def rep() -> str:
    return f"rep-{random.randrange(10**9)}"


async def test_successor_then_manager_then_nobody(stub: Stub, consuming: Runtime) -> None:
    leaving, successor, manager = rep(), rep(), rep()
    to_successor = await accounts_of(stub, leaving, 2)
    await depart(consuming, leaving, successor_id=successor, manager_id=manager)
    for customer_id in to_successor:
        got = await wait_for(stub, customer_id, lambda c: c.steward_id != leaving)
        assert got.steward_id == successor
    history = await stub.GetHistory(customer_pb2.GetHistoryRequest(customer_id=to_successor[0]), timeout=5)
    move = history.changes[0]
    assert (move.field, move.old_value, move.new_value, move.actor_role) == ("steward_id", leaving, successor, "system")
    assert "successor" in move.reason and leaving in move.reason

    second = rep()
    to_manager = await accounts_of(stub, second, 1)
    await depart(consuming, second, manager_id=manager)
    got = await wait_for(stub, to_manager[0], lambda c: c.steward_id != second)
    assert got.steward_id == manager and not got.steward_needed

    before = await stub.GetDataHealth(customer_pb2.GetDataHealthRequest(), timeout=5)
    alone = rep()
    orphaned = await accounts_of(stub, alone, 2)
    await depart(consuming, alone)
    for customer_id in orphaned:
        got = await wait_for(stub, customer_id, lambda c: c.steward_needed)
        assert (got.steward_needed, got.steward_id) == (True, alone)
    after = await stub.GetDataHealth(customer_pb2.GetDataHealthRequest(), timeout=5)
    assert after.steward_needed == before.steward_needed + 2
    history = await stub.GetHistory(customer_pb2.GetHistoryRequest(customer_id=orphaned[0]), timeout=5)
    assert (history.changes[0].field, history.changes[0].new_value) == ("steward_needed", "true")

    # Naming a steward ends the wait.
    await stub.UpdateCustomerField(
        customer_pb2.UpdateCustomerFieldRequest(customer_id=orphaned[0], field="steward_id", value=manager), timeout=5
    )
    got = (await stub.GetCustomer(customer_pb2.GetCustomerRequest(customer_id=orphaned[0]), timeout=5)).customer
    assert (got.steward_id, got.steward_needed) == (manager, False)
    final = await stub.GetDataHealth(customer_pb2.GetDataHealthRequest(), timeout=5)
    assert final.steward_needed == after.steward_needed - 1
