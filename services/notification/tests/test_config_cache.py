"""Templates and recipients are cached per process, and every change to them is seen: here, or by a replica."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from sqlalchemy import delete, select, update

from crm.notification.v1 import notification_pb2
from crm_common.service import Runtime
from notification import config_cache, config_repository, domain
from notification.config_cache import ConfigCache
from notification.rendering import render_kind
from notification.tables import notifications, recipients
from notification.tables import templates as templates_table

from .kit import CONTEXT, Kit

KIND = domain.LEAD_ASSIGNED


@contextlib.asynccontextmanager
async def listening_cache(runtime: Runtime) -> AsyncIterator[ConfigCache]:
    cache = ConfigCache(runtime.db, runtime.libpq_url())
    task = asyncio.create_task(cache.run())
    try:
        await eventually(lambda: cache.listening)
        yield cache
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        cache.close(runtime.db)


async def eventually(check, within: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + within
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


async def title_now(runtime: Runtime) -> str:
    async with runtime.db.connect() as conn:
        return (await render_kind(conn, KIND, {"lead_name": "Li", "company": "", "channel": "", "lead_id": ""})).title


async def sneak_title(runtime: Runtime, title: str) -> None:
    """Change the saved template behind the API's back (no announcement): only a cache would hide it."""
    async with runtime.db.transaction() as conn:
        await conn.execute(update(templates_table).where(templates_table.c.name == KIND).values(title=title))


async def put_template(kit: Kit, cache: ConfigCache, title: str) -> None:
    """Save a template through the API, and wait until this process has also heard its NOTIFY."""
    before = cache.generation
    template = notification_pb2.Template(name=KIND, title=title, body="{lead_name}")
    await kit.servicer.PutTemplate(notification_pb2.PutTemplateRequest(template=template), CONTEXT)
    assert cache.generation > before  # dropped by the handler itself, before the NOTIFY arrives
    await eventually(lambda: cache.generation >= before + 2)


async def test_a_saved_template_is_used_at_once_and_a_replicas_change_after_its_commit(kit: Kit) -> None:
    runtime = kit.runtime
    try:
        async with listening_cache(runtime) as cache:
            await put_template(kit, cache, "first {lead_name}")
            assert await title_now(runtime) == "first Li"
            # Served from the cache: a write that announces nothing is not seen...
            await sneak_title(runtime, "sneaked {lead_name}")
            assert await title_now(runtime) == "first Li"
            # ...while a change through this process is seen as soon as PutTemplate returns,
            await put_template(kit, cache, "second {lead_name}")
            assert await title_now(runtime) == "second Li"
            # and one committed by another replica once its NOTIFY arrives.
            async with runtime.db.transaction() as conn:
                await config_repository.upsert_template(
                    conn, name=KIND, title="third {lead_name}", body="{lead_name}", placeholder="-", fields=["lead_name"],
                    at=datetime.now(UTC),
                )
            deadline = asyncio.get_running_loop().time() + 10
            while await title_now(runtime) != "third Li":
                assert asyncio.get_running_loop().time() < deadline, "the replica's change was never seen"
                await asyncio.sleep(0.02)
        # Nobody listening: no cache, every read sees the database.
        await sneak_title(runtime, "fourth {lead_name}")
        assert await title_now(runtime) == "fourth Li"
    finally:
        async with runtime.db.transaction() as conn:
            await conn.execute(delete(templates_table).where(templates_table.c.name == KIND))


async def test_an_assignment_reads_the_recipients_new_profile_after_put_recipient(kit: Kit) -> None:
    runtime = kit.runtime
    webhook = await kit.channel("webhook")
    rep = str(uuid.uuid4())
    async with listening_cache(runtime):
        first = await kit.assign(rep)
        async with runtime.db.connect() as conn:
            assert await config_cache.recipient(conn, rep) is None  # cached as having no profile
        await kit.recipient([webhook], id=rep)
        # PutRecipient dropped that at once: the next assignment goes through the new fallback chain.
        second = await kit.assign(rep)
        async with runtime.db.connect() as conn:
            channels = dict(
                (await conn.execute(
                    select(notifications.c.lead_id, notifications.c.channel).where(notifications.c.lead_id.in_([first, second]))
                )).all()
            )
    assert channels == {first: "in_app", second: webhook}
    async with runtime.db.transaction() as conn:
        await conn.execute(delete(recipients).where(recipients.c.id == rep))


async def test_a_read_that_began_before_a_change_is_not_kept(runtime: Runtime) -> None:
    cache = ConfigCache(runtime.db, runtime.libpq_url())
    try:
        cache._listening = True  # as if its listener were connected
        release = asyncio.Event()

        async def slow_load():  # type: ignore[no-untyped-def]
            await release.wait()
            return None

        reading = asyncio.create_task(cache.get("recipient", "r", slow_load))
        await asyncio.sleep(0)
        cache.invalidate()  # a change committed while the read was under way
        release.set()
        assert await reading is None
        calls = []

        async def load():  # type: ignore[no-untyped-def]
            calls.append(1)
            return None

        await cache.get("recipient", "r", load)
        await cache.get("recipient", "r", load)
        assert calls == [1]  # the stale read was not stored; the fresh one was, once
    finally:
        cache.close(runtime.db)
