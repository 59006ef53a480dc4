"""A projection rebuilt from the JetStream history into new tables and swapped in equals the live one."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

import pytest
import pytest_asyncio
from sqlalchemy import text

from crm_common.bus.consumer import DurableConsumer
from crm_common.errors import InvalidArgument
from crm_common.service import Runtime, ServiceDefinition
from reporting.app import DEFINITION
from reporting.projections.consumers import CONSUMERS
from reporting.projections.rebuild import plan, rebuild
from reporting.tests.known_events import story

TABLES = ("lead_fact", "opportunity_fact", "stage_visit", "stage_action")


@pytest_asyncio.fixture(loop_scope="session")
async def fresh(
    service_runtime: Callable[[ServiceDefinition], AbstractAsyncContextManager[Runtime]],
) -> AsyncIterator[Runtime]:
    async with service_runtime(DEFINITION) as rt:
        yield rt


async def _snapshot(runtime: Runtime) -> dict[str, list[tuple]]:
    async with runtime.db.connect() as conn:
        return {t: [tuple(r) for r in await conn.execute(text(f"SELECT * FROM reporting.{t} ORDER BY 1, 2"))]
                for t in TABLES}


async def _drain(runtime: Runtime) -> None:
    """The live consumers apply everything in the streams (each batch with its inbox, as in production)."""
    assert runtime.js is not None
    for spec in CONSUMERS:
        consumer = DurableConsumer(spec, db=runtime.db, inbox=DEFINITION.inbox, js=runtime.js, max_deliver=5)
        await consumer.subscribe()
        sub = await runtime.js.pull_subscribe(spec.subject, durable=spec.durable)
        try:
            msgs = await sub.fetch(256, timeout=1)
        except Exception:  # nothing on this subject
            continue
        await consumer.handle_batch(msgs)


def test_a_projection_is_rebuilt_with_the_tables_its_events_also_write() -> None:
    assert plan("stage_visit") == (("opportunity_fact", "stage_visit"), (
        "crm.pipeline.handover", "crm.pipeline.opportunity_opened", "crm.pipeline.stage_changed"))
    with pytest.raises(InvalidArgument):
        plan("nope")


async def test_rebuild_equals_live_and_later_events_apply_once(fresh: Runtime) -> None:
    assert fresh.js is not None
    first, second = story(), story()
    for subject, message in first.events:
        await fresh.js.publish(subject, message.SerializeToString(), headers={"Nats-Msg-Id": str(uuid.uuid4())})
    await _drain(fresh)
    live = await _snapshot(fresh)
    assert len(live["lead_fact"]) == 6 and len(live["stage_visit"]) == 8
    for projection in ("lead_fact", "opportunity_fact", "stage_action"):
        result = await rebuild(fresh.db, fresh.js, projection=projection)
        assert result.events > 0
    assert await _snapshot(fresh) == live
    # Events after the swap reach the new tables once; those the rebuild applied are not applied again.
    for subject, message in second.events:
        await fresh.js.publish(subject, message.SerializeToString(), headers={"Nats-Msg-Id": str(uuid.uuid4())})
    await _drain(fresh)
    after = await _snapshot(fresh)
    assert len(after["lead_fact"]) == 12
    assert [r for r in after["lead_fact"] if r[0] in first.leads.values()] == live["lead_fact"]
