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
from reporting.tests.known_events import Story, story

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


async def test_a_batch_leaves_what_its_events_one_by_one_leave(fresh: Runtime) -> None:
    one, many = story(), story()
    from datetime import UTC, datetime

    from crm_common.bus.consumer import EventMeta

    specs = {spec.subject: spec for spec in CONSUMERS}
    meta = EventMeta(event_id="", subject="", published_at=datetime.now(UTC), delivery=1)
    for subject, message in one.events:
        async with fresh.db.transaction() as conn:
            await specs[subject].handler(conn, message, meta)
    # The other story's events a subject at a time, each subject's events in one batch (as a fetch would).
    for subject, spec in specs.items():
        batch = [(m, meta) for s, m in many.events if s == subject]
        if batch:
            async with fresh.db.transaction() as conn:
                await spec.batch_handler(conn, batch)  # type: ignore[misc]

    def renamed(rows: list[tuple], ids: dict[str, str]) -> list[tuple]:
        back = {v: k for k, v in ids.items()}
        return sorted(tuple(back.get(c, c) if isinstance(c, str) else c for c in r) for r in rows if r[0] in back)

    got = await _snapshot(fresh)
    for table in TABLES:

        def normal(s: Story, rows: list[tuple]) -> list[tuple]:
            return renamed(rows, s.leads | s.opps | {"t1": s.t1, "t2": s.t2, "r1": s.r1, "r2": s.r2, "r3": s.r3,
                                                     "p": s.pipeline})

        assert normal(one, got[table]) == normal(many, got[table]), table
