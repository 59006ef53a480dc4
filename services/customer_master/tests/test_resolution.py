"""Resolving customers on a real PostgreSQL, with the created event going out through the real NATS."""

from __future__ import annotations

import asyncio
import logging
import random
import uuid

import pytest
from nats.aio.msg import Msg
from prometheus_client import REGISTRY
from sqlalchemy import event, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from crm.events.v1 import customer_events_pb2
from crm_common.service import Runtime
from customer_master import repository
from customer_master.matching import REVIEW, MatchRules, Record
from customer_master.names import normalize_company_name
from customer_master.resolution import (
    ResolveRequest,
    cached_rules,
    forget_rules,
    resolve_customer,
    scored_candidates,
)
from customer_master.tables import contact_intake


def _phone() -> str:
    return f"+86139{random.randrange(10**8):08d}"


def _han(count: int) -> str:
    """Chinese characters drawn at random: a company core no other test's customer resembles."""
    return "".join(chr(0x4E00 + random.randrange(20000)) for _ in range(count))


def _resolved(matched_on: str) -> float:
    return REGISTRY.get_sample_value("crm_customers_resolved_total", {"matched_on": matched_on}) or 0.0


async def test_first_resolve_creates_then_phone_matches(runtime: Runtime, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="customer_master")
    phone = _phone()
    created_before = _resolved("created")
    first = await resolve_customer(runtime, ResolveRequest(name="Wang", phone=phone, source_ref="lead:1"))
    assert first.created and first.matched_on == ""
    assert _resolved("created") == created_before + 1

    phone_before = _resolved("phone")
    again = await resolve_customer(
        runtime, ResolveRequest(name="Wang Wei", phone=phone, email=f"{uuid.uuid4().hex}@x.cn", source_ref="lead:2")
    )
    assert not again.created
    assert again.matched_on == "phone"
    assert again.customer.id == first.customer.id
    assert _resolved("phone") == phone_before + 1
    logged = [r for r in caplog.records if r.getMessage() == "customer resolved"]
    assert [(r.customer_created, r.matched_on) for r in logged] == [(True, ""), (False, "phone")]


async def test_email_matches_when_phone_does_not(runtime: Runtime) -> None:
    local = uuid.uuid4().hex
    first = await resolve_customer(runtime, ResolveRequest(email=f"{local}@Example.com", source_ref="lead:e1"))
    assert first.created
    assert first.customer.email_normalized == f"{local}@example.com"

    again = await resolve_customer(
        runtime, ResolveRequest(phone=_phone(), email=f"  {local.upper()}@EXAMPLE.COM ", source_ref="lead:e2")
    )
    assert (again.created, again.matched_on, again.customer.id) == (False, "email", first.customer.id)


async def test_company_matches_across_width_brackets_and_punctuation(runtime: Runtime) -> None:
    tag = uuid.uuid4().hex[:8]
    first = await resolve_customer(runtime, ResolveRequest(company=f"杭州{tag}科技（有限公司）", source_ref="lead:c1"))
    assert first.created
    again = await resolve_customer(
        runtime, ResolveRequest(company=f"杭州 {tag.upper()} 科技有限公司", source_ref="lead:c2")
    )
    assert (again.created, again.matched_on, again.customer.id) == (False, "company", first.customer.id)


async def test_phone_wins_over_email_and_company(runtime: Runtime) -> None:
    by_phone = await resolve_customer(runtime, ResolveRequest(phone=_phone()))
    by_email = await resolve_customer(runtime, ResolveRequest(email=f"{uuid.uuid4().hex}@x.cn"))
    assert by_phone.customer.id != by_email.customer.id
    both = await resolve_customer(
        runtime, ResolveRequest(phone=by_phone.customer.phone_e164, email=by_email.customer.email_normalized)
    )
    assert (both.matched_on, both.customer.id) == ("phone", by_phone.customer.id)


async def test_every_source_is_recorded_once_with_its_values(runtime: Runtime) -> None:
    phone = _phone()
    first = await resolve_customer(runtime, ResolveRequest(name="Li", phone=phone, source_ref="lead:s1"))
    await resolve_customer(runtime, ResolveRequest(name="Li Na", phone=phone, email="LI@x.cn", source_ref="lead:s2"))
    await resolve_customer(runtime, ResolveRequest(name="Li Na", phone=phone, source_ref="lead:s2"))
    async with runtime.db.connect() as conn:
        sources = await repository.list_sources(conn, customer_id=first.customer.id)
    assert [(s.source_ref, s.name, s.email, s.matched_on) for s in sources] == [
        ("lead:s1", "Li", None, "created"),
        ("lead:s2", "Li Na", "LI@x.cn", "phone"),
    ]


async def test_concurrent_resolves_of_one_phone_make_one_customer(runtime: Runtime) -> None:
    phone = _phone()
    results = await asyncio.gather(
        *(
            resolve_customer(runtime, ResolveRequest(name=f"n{i}", phone=phone, source_ref=f"lead:p{i}"))
            for i in range(20)
        )
    )
    assert len({r.customer.id for r in results}) == 1
    assert sum(r.created for r in results) == 1
    assert {r.matched_on for r in results if not r.created} == {"phone"}
    async with runtime.db.connect() as conn:
        sources = await repository.list_sources(conn, customer_id=results[0].customer.id)
    assert len(sources) == 20


async def test_concurrent_resolves_sharing_any_key_converge(runtime: Runtime) -> None:
    phone, email = _phone(), f"{uuid.uuid4().hex}@x.cn"
    requests = [ResolveRequest(phone=phone), ResolveRequest(email=email), ResolveRequest(phone=phone, email=email)] * 5
    results = await asyncio.gather(*(resolve_customer(runtime, r) for r in requests))
    # Phone-only and email-only resolves may each create one customer; the rest must reuse those.
    assert sum(r.created for r in results) <= 2
    assert len({r.customer.id for r in results}) == sum(r.created for r in results)


async def _events_until(received: asyncio.Queue, customer_id: str) -> list[customer_events_pb2.CustomerCreated]:
    """CustomerCreated events received up to and including the one of customer_id."""
    events: list[customer_events_pb2.CustomerCreated] = []
    async with asyncio.timeout(10):
        while not events or events[-1].customer_id != customer_id:
            msg = await received.get()
            event = customer_events_pb2.CustomerCreated()
            event.ParseFromString(msg.data)
            assert msg.headers and msg.headers.get("Nats-Msg-Id")
            events.append(event)
    return events


async def test_created_customer_is_announced_once_and_matches_announce_nothing(runtime: Runtime) -> None:
    assert runtime.nc is not None
    received: asyncio.Queue = asyncio.Queue()

    async def on_message(msg: Msg) -> None:
        await received.put(msg)

    sub = await runtime.nc.subscribe("crm.customer.created", cb=on_message)
    try:
        phone = _phone()
        created = await resolve_customer(runtime, ResolveRequest(phone=phone, source_ref="lead:bus"))
        events = await _events_until(received, str(created.customer.id))
        assert events[-1].source_ref == "lead:bus"
        assert events[-1].created_at.ToDatetime().timestamp() > 0

        await resolve_customer(runtime, ResolveRequest(phone=phone, source_ref="lead:bus2"))
        # The relay publishes in outbox order, so an event staged by the match would come before the marker's.
        marker = await resolve_customer(runtime, ResolveRequest(phone=_phone()))
        later = await _events_until(received, str(marker.customer.id))
        assert str(created.customer.id) not in {e.customer_id for e in later}
    finally:
        await sub.unsubscribe()


async def _store_company(conn: AsyncConnection, company: str) -> uuid.UUID:
    name = normalize_company_name(company)
    row = await repository.insert_customer(
        conn,
        name="",
        company=company,
        company_normalized=None,
        phone_e164=None,
        email_normalized=None,
        company_latin=name.latin,
        company_grams=name.grams,
    )
    return row.id


async def test_blocked_search_ranks_a_mistyped_name_above_hundreds_of_look_alikes(runtime: Runtime) -> None:
    # 400 short names sharing the first character and the trade word crowd a count of shared keys; the pool is
    # ranked by containment and then by the scorer's own similarity, so the one-typo match still comes first.
    decoys = [chr(0x4E00 + 3000 + i) for i in range(400)]
    async with runtime.db.transaction() as conn:
        target = await _store_company(conn, "獬达实业科技有限公司")
        for ch in decoys:
            await _store_company(conn, f"獬{ch}实业有限公司")
    async with runtime.db.transaction() as conn:
        found = await scored_candidates(conn, Record(company="獬讯实业科技"), MatchRules())
    assert len(found) == 50
    assert found[0].row.id == target
    assert found[0].result.decision == REVIEW and found[0].result.score > found[1].result.score


async def test_changed_match_rules_apply_to_the_next_resolve(runtime: Runtime) -> None:
    # The pair scores between 80 and 90: a review under the shipped rules, an auto-match once auto_match is 80.
    async with runtime.db.transaction() as conn:
        target = await _store_company(conn, "獬豸达实业科技有限公司")
    forget_rules()
    async with runtime.db.connect() as conn:
        assert (await cached_rules(conn)).auto_match == 90
    async with runtime.db.transaction() as conn:
        await repository.put_setting(conn, key="match_rules", value={"auto_match": 80, "review": 70}, updated_by="t")
    try:
        forget_rules()
        resolved = await resolve_customer(runtime, ResolveRequest(company="獬豸讯实业科技", source_ref="lead:r1"))
        assert (resolved.created, resolved.matched_on, resolved.customer.id) == (False, "fuzzy", target)
        assert 80 <= resolved.explanation["score"] < 90
    finally:
        async with runtime.db.transaction() as conn:
            await repository.put_setting(conn, key="match_rules", value=MatchRules().to_dict(), updated_by="t")
        forget_rules()


async def _advisory_lock_awaited(runtime: Runtime) -> None:
    """Returns once some session waits for an advisory lock."""
    async with asyncio.timeout(10):
        while True:
            async with runtime.db.read() as conn:
                waiting = await conn.scalar(
                    text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
                )
            if waiting:
                return
            await asyncio.sleep(0.01)


async def test_a_resolve_waiting_for_a_key_sees_the_customer_its_holder_committed(runtime: Runtime) -> None:
    # The lookup takes the locks and reads in one call: its read must run after the lock is granted, in a snapshot
    # taken then (not when the call began), or it would miss this customer and create a second one.
    phone = _phone()
    async with runtime.db.transaction() as holder:
        await repository.lock_keys(holder, lock_names=[f"customer_master:phone:{phone}"])
        waiting = asyncio.create_task(resolve_customer(runtime, ResolveRequest(phone=phone, source_ref="lead:w1")))
        await _advisory_lock_awaited(runtime)
        assert not waiting.done()
        stored = await repository.insert_customer(
            holder, name="", company=None, company_normalized=None, phone_e164=phone, email_normalized=None
        )
    resolved = await waiting
    assert (resolved.created, resolved.matched_on, resolved.customer.id) == (False, "phone", stored.id)
    assert resolved.customer.phone_e164 == phone and resolved.customer.created_at is not None


async def test_two_resolves_of_one_new_phone_at_once_make_one_customer(runtime: Runtime) -> None:
    phone = _phone()
    first, second = await asyncio.gather(
        resolve_customer(runtime, ResolveRequest(name="甲", phone=phone, source_ref="lead:t1")),
        resolve_customer(runtime, ResolveRequest(name="乙", phone=phone, source_ref="lead:t2")),
    )
    assert first.customer.id == second.customer.id
    assert sorted((first.created, second.created)) == [False, True]
    async with runtime.db.connect() as conn:
        sources = await repository.list_sources(conn, customer_id=first.customer.id)
    assert sorted(s.source_ref for s in sources) == ["lead:t1", "lead:t2"]


async def test_the_lookup_reads_the_pool_only_when_no_key_matches(runtime: Runtime) -> None:
    tag = chr(0x4E00 + random.randrange(5000, 9000))
    async with runtime.db.transaction() as conn:
        target = await _store_company(conn, f"獬{tag}达实业科技有限公司")
    grams = normalize_company_name(f"獬{tag}讯实业科技").grams
    async with runtime.db.transaction() as conn:
        lookup = await repository.resolve_lookup(
            conn, lock_names=[], keys=[("phone", _phone())], grams=grams, query_keys=len(grams), pool_size=300
        )
        pool = await repository.candidate_pool(conn, grams=grams, query_keys=len(grams), size=300)
    assert lookup.holders == []
    assert lookup.pool == pool and target in {customer_id for customer_id, _, _ in pool}

    phone = _phone()
    held = await resolve_customer(runtime, ResolveRequest(phone=phone))
    async with runtime.db.transaction() as conn:
        lookup = await repository.resolve_lookup(
            conn, lock_names=[], keys=[("phone", phone)], grams=grams, query_keys=len(grams), pool_size=300
        )
    assert [row.id for row in lookup.holders] == [held.customer.id] and lookup.pool is None


async def test_a_resolve_costs_few_round_trips(runtime: Runtime) -> None:
    # Statements sent per resolve (BEGIN and COMMIT aside), caches warm: a budget, so that a change adding a round
    # trip to every lead is noticed. New customer: lookup, candidates, the customer with its writes, its event.
    statements: list[str] = []
    resolving = asyncio.current_task()

    def sent(conn: object, cursor: object, statement: str, *_: object) -> None:
        if asyncio.current_task() is resolving:  # not the outbox relay's
            statements.append(statement)

    await resolve_customer(runtime, ResolveRequest(name="王伟", company=f"杭州{_han(3)}科技有限公司", phone=_phone()))
    event.listen(runtime.db.engine.sync_engine, "before_cursor_execute", sent)
    try:
        phone = _phone()
        request = ResolveRequest(name="张丽", company=f"杭州{_han(3)}科技", phone=phone, source_ref="lead:b")
        created = await resolve_customer(runtime, request)
        assert created.created and len(statements) == 4, statements
        statements.clear()
        again = await resolve_customer(runtime, ResolveRequest(name="张丽", phone=phone, source_ref="lead:b2"))
        assert (again.created, again.matched_on) == (False, "phone") and len(statements) == 2, statements
    finally:
        event.remove(runtime.db.engine.sync_engine, "before_cursor_execute", sent)


async def test_a_resolve_writes_its_source_and_person_in_the_statement_that_creates_the_customer(
    runtime: Runtime,
) -> None:
    phone, company = _phone(), f"宁波{_han(3)}科技"
    created = await resolve_customer(
        runtime,
        ResolveRequest(name=" 李娜 ", company=f" {company} ", phone=phone, email="Li@X.cn", source_ref="lead:w"),
    )
    matched = await resolve_customer(runtime, ResolveRequest(name="李娜", phone=phone, source_ref="lead:w2"))
    bare = await resolve_customer(runtime, ResolveRequest(company=f"{uuid.uuid4().hex[:8]}有限公司"))
    async with runtime.db.connect() as conn:
        sources = await repository.list_sources(conn, customer_id=created.customer.id)
        queued = (
            await conn.execute(
                select(contact_intake.c.customer_id, contact_intake.c.source_ref, contact_intake.c.name).where(
                    contact_intake.c.customer_id.in_([created.customer.id, bare.customer.id])
                )
            )
        ).all()
    assert created.customer.company == company and created.customer.name == "李娜"
    assert [(s.source_ref, s.name, s.company, s.phone, s.email, s.matched_on) for s in sources] == [
        ("lead:w", "李娜", company, phone, "Li@X.cn", "created"),
        ("lead:w2", "李娜", None, phone, None, "phone"),
    ]
    assert matched.customer.id == created.customer.id and matched.customer.company == company
    # Queued people wait for the intake worker (others' tests may have linked them already): never the bare company.
    assert all(row.customer_id == created.customer.id for row in queued)
    assert {row.name for row in queued} <= {" 李娜 ", "李娜"}
