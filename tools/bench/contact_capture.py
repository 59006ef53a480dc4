"""Contact capture: what the person of a resolve costs the resolve, and linking it to a contact, at scale.

    .venv/bin/python -m tools.bench.contact_capture                          # 200,000 contacts, 1,000 captures
    .venv/bin/python -m tools.bench.contact_capture --contacts 1000000 --accounts 250000
    CRM_BENCH_DATABASE_URL=postgresql://... to use a running server instead of an embedded one

Contacts are synthetic (Chinese surname + given name, unique phones and emails) spread over accounts. Half the
captures are the same people again in another form (pinyin in either order, or surname + title, with the stored
phone or email), half are new people of existing accounts. Printed:

- `capture_contact` (one person on its own: lock, candidate lookup, one write; the worker's fallback path and
  the function MatchContact's scoring shares), each in its own committed transaction: latency p50/p90/p99,
  client CPU, SQL statements, how many variants linked to their contact and how many new people were wrongly
  joined to someone;
- the same kind of arrivals queued and linked by the intake worker in batches of 100 (its production path):
  people per second, client CPU per person, the same two accuracy counts;
- `resolve_customer` with its one contact call (an INSERT into the intake queue) and, alternately, without it,
  then the worker draining what those resolves queued;
- the query plan of the candidate lookup (index scans only).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import event, text

from customer_master.app import DEFINITION
from customer_master.contacts import ContactRecord, blocking_keys, capture_contact

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红鹏辉建国志宏海波斌宇浩凯健俊帆晨阳雪梅琳婷倩"
TITLES = ("经理", "总", "先生", "女士", "老师")


def person(rng: random.Random) -> str:
    """A synthetic Chinese name."""
    return rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.choice((1, 2))))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def load(libpq_url: str, contacts: int, accounts: int, seed: int) -> list[tuple[uuid.UUID, uuid.UUID, str, str, str]]:
    """COPY accounts, contacts, their source records and blocking keys; returns (account, contact, name, phone, email)."""
    rng = random.Random(seed)
    account_ids = [uuid.uuid4() for _ in range(accounts)]
    people = []
    for i in range(contacts):
        people.append((rng.choice(account_ids), uuid.uuid4(), person(rng), f"+86139{i:08d}", f"p{i}@example.com"))
    with psycopg.connect(libpq_url) as conn:
        with conn.cursor().copy("COPY customer_master.customers (id, name) FROM STDIN") as copy:
            for a in account_ids:
                copy.write_row((a, ""))
        with conn.cursor().copy(
            "COPY customer_master.contacts (id, customer_id, name, phone_e164, email_normalized) FROM STDIN"
        ) as copy:
            for account, contact, name, phone, email in people:
                copy.write_row((contact, account, name, phone, email))
        with conn.cursor().copy(
            "COPY customer_master.contact_sources (id, contact_id, customer_id, source_system, source_ref, name, "
            "phone_e164, email_normalized) FROM STDIN"
        ) as copy:
            for account, contact, name, phone, email in people:
                copy.write_row((uuid.uuid4(), contact, account, "seed", f"seed:{contact}", name, phone, email))
        buffer = io.StringIO()
        for account, contact, name, phone, email in people:
            record = ContactRecord(account, name, frozenset({phone}), frozenset({email}))
            for key in blocking_keys(record):
                buffer.write(f"{key}\t{contact}\n")
        with conn.cursor().copy("COPY customer_master.contact_keys (key, contact_id) FROM STDIN") as copy:
            copy.write(buffer.getvalue())
        conn.commit()
    with psycopg.connect(libpq_url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return people


def variant(name: str, rng: random.Random) -> str:
    """The same person written another way: pinyin in either order, or surname + title."""
    from customer_master.contacts import parse_name

    tokens = [t.capitalize() for t in parse_name(name).tokens]
    choice = rng.random()
    if choice < 0.4:
        return " ".join(tokens)
    if choice < 0.7:
        return " ".join(reversed(tokens))
    return name[0] + rng.choice(TITLES)


def arrival(
    people: list[tuple[uuid.UUID, uuid.UUID, str, str, str]], rng: random.Random, i: int
) -> tuple[uuid.UUID, uuid.UUID, bool, dict[str, str | None]]:
    """Every other arrival is a stored person in another form (with their phone or email), else a new person."""
    account, contact, name, phone, email = rng.choice(people)
    if i % 2 == 0:
        with_phone = rng.random() < 0.5
        return account, contact, True, {"name": variant(name, rng), "phone": phone if with_phone else None,
                                        "email": None if with_phone else email}
    return account, contact, False, {"name": person(rng), "phone": f"+86137{rng.randrange(10**8):08d}", "email": None}


async def intake(db: Any, people: list[tuple[uuid.UUID, uuid.UUID, str, str, str]], rng: random.Random, n: int) -> None:
    """The same kind of arrivals queued as resolves queue them, then linked by the intake worker in batches."""
    from customer_master import repository
    from customer_master.contact_intake import process_intake

    expected: dict[str, tuple[bool, uuid.UUID]] = {}
    async with db.transaction() as conn:
        for i in range(n):
            account, contact, same, args = arrival(people, rng, i)
            ref = f"bench:{uuid.uuid4()}"
            expected[ref] = (same, contact)
            await repository.insert_contact_intake(
                conn, customer_id=account, source_ref=ref, name=args["name"] or "", phone=args["phone"] or "",
                email=args["email"] or "",
            )
    started, cpu_started, linked = time.perf_counter(), time.process_time(), 0
    while taken := await process_intake(db):
        linked += taken
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    async with db.connect() as conn:
        rows = (
            await conn.execute(
                text("SELECT source_ref, contact_id FROM customer_master.contact_sources WHERE source_ref = ANY(:refs)"),
                {"refs": list(expected)},
            )
        ).all()
    found = {ref: contact for ref, contact in rows}
    right = sum(1 for ref, (same, contact) in expected.items() if same and found.get(ref) == contact)
    wrong = sum(1 for ref, (same, _) in expected.items() if not same and found.get(ref) in _stored_ids(people))
    print(f"intake worker ({n} queued arrivals, batches of 100):")
    print(f"  {linked / elapsed:.0f} people/s, client CPU {cpu / linked * 1000:.2f} ms per person")
    print(f"  variants linked to their person: {right}/{n // 2 + n % 2}; new people joined to a stored one: {wrong}/{n // 2}")


_STORED: dict[int, set[uuid.UUID]] = {}


def _stored_ids(people: list[tuple[uuid.UUID, uuid.UUID, str, str, str]]) -> set[uuid.UUID]:
    if id(people) not in _STORED:
        _STORED[id(people)] = {contact for _, contact, _, _, _ in people}
    return _STORED[id(people)]


async def run(url: str, people: list[tuple[uuid.UUID, uuid.UUID, str, str, str]], captures: int, seed: int) -> None:
    from crm_common.db import Database

    rng = random.Random(seed + 1)
    db = Database(url, pool_size=2, instrument=False)
    statements = [0]
    event.listen(db.engine.sync_engine, "before_cursor_execute", lambda *_: statements.__setitem__(0, statements[0] + 1))
    latencies: list[float] = []
    cpu: list[float] = []
    counts: list[int] = []
    linked = variants = joined = newcomers = 0
    for i in range(captures + 50):
        account, contact, same, args = arrival(people, rng, i)
        before = statements[0]
        started, cpu_started = time.perf_counter(), time.process_time()
        async with db.transaction() as conn:
            result = await capture_contact(conn, customer_id=account, source_ref=f"bench:{uuid.uuid4()}", **args)
        elapsed = time.perf_counter() - started
        if i < 50:
            continue
        latencies.append(elapsed * 1000)
        cpu.append((time.process_time() - cpu_started) * 1000)
        counts.append(statements[0] - before)
        if same:
            variants += 1
            linked += result is not None and result.contact.id == contact
        else:
            newcomers += 1
            # A new person with a new phone joined to someone (only an identical name in the same account does).
            joined += result is not None and not result.created
    print(f"capture_contact ({captures} captures, one connection, sequential, after 50 warm-up):")
    print(
        f"  p50 {percentile(latencies, 0.5):.2f} ms  p90 {percentile(latencies, 0.9):.2f} ms  "
        f"p99 {percentile(latencies, 0.99):.2f} ms  mean {statistics.mean(latencies):.2f} ms"
    )
    print(f"  client CPU (SQLAlchemy, psycopg, scoring in Python) per capture: mean {statistics.mean(cpu):.2f} ms")
    print(f"  SQL statements per capture: min {min(counts)}, median {statistics.median(counts):g}, max {max(counts)}")
    print(f"  variants of a stored person linked to that person: {linked}/{variants} ({linked / variants:.3f})")
    print(f"  new people (new name, new phone) linked to an existing contact: {joined}/{newcomers}")
    await intake(db, people, rng, captures)
    await resolve_with_and_without(url, rng, captures)
    account, _, name, phone, _ = people[0]
    keys = blocking_keys(ContactRecord(account, name, frozenset({phone}), frozenset()))
    async with db.connect() as conn:
        plan = await conn.execute(
            text(
                "EXPLAIN SELECT c.*, array_agg(k.key) FROM customer_master.contacts c "
                "JOIN customer_master.contact_keys k ON k.contact_id = c.id WHERE k.key = ANY(:keys) "
                "AND c.merged_into IS NULL AND c.customer_id = :account GROUP BY c.id ORDER BY count(*) DESC LIMIT 20"
            ),
            {"keys": keys, "account": account},
        )
        print("  candidate lookup plan:")
        for (line,) in plan.all():
            print(f"    {line}")
    await db.engine.dispose()


async def resolve_with_and_without(url: str, rng: random.Random, resolves: int) -> None:
    """ResolveCustomer's own function with the contact capture in it and, alternately, with it switched off."""
    from crm_common.service import Runtime
    from customer_master import contact_intake, contacts
    from customer_master.resolution import ResolveRequest, resolve_customer
    from customer_master.settings import CustomerMasterSettings

    runtime = Runtime(DEFINITION, CustomerMasterSettings(environment="test", database_url=url))
    capture = contacts.capture_resolved

    async def skip(*_: object, **__: object) -> None:
        return None

    timings: dict[bool, list[float]] = {True: [], False: []}
    for i in range(2 * resolves + 100):
        with_capture = i % 2 == 0
        # The benchmark's switch only: the service always captures.
        contacts.capture_resolved = capture if with_capture else skip  # type: ignore[assignment]
        request = ResolveRequest(
            name=person(rng),
            company=f"{uuid.uuid4().hex[:10]}有限公司",
            phone=f"+86158{rng.randrange(10**8):08d}",
            source_ref=f"lead:{uuid.uuid4()}",
        )
        started = time.perf_counter()
        await resolve_customer(runtime, request)
        if i >= 100:
            timings[with_capture].append((time.perf_counter() - started) * 1000)
    contacts.capture_resolved = capture  # type: ignore[assignment]
    print(f"resolve_customer ({resolves} each, alternating, new customer + new person each time):")
    for flag, label in ((True, "with contact capture"), (False, "without")):
        ms = timings[flag]
        print(f"  {label:>22}: p50 {percentile(ms, 0.5):.2f} ms  p99 {percentile(ms, 0.99):.2f} ms  mean {statistics.mean(ms):.2f} ms")
    started, linked = time.perf_counter(), 0
    while taken := await contact_intake.process_intake(runtime.db):
        linked += taken
    elapsed = time.perf_counter() - started
    print(f"intake worker: {linked} queued people linked in {elapsed:.2f} s ({linked / elapsed:.0f} people/s)")
    await runtime.db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=200_000)
    parser.add_argument("--accounts", type=int, default=50_000)
    parser.add_argument("--captures", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    from crm_common.migrations import upgrade_to_head
    from tools.devstack import infra

    server = None
    with tempfile.TemporaryDirectory(prefix="crm-bench-") as tmp:
        libpq_url = os.environ.get("CRM_BENCH_DATABASE_URL", "").replace("postgresql+psycopg://", "postgresql://")
        if not libpq_url:
            server = infra.PostgresServer(Path(tmp) / "pg")
            server.start()
            libpq_url = server.libpq_url
        try:
            name = f"bench_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(libpq_url, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            libpq_db = libpq_url.rsplit("/", 1)[0] + f"/{name}"
            url = libpq_db.replace("postgresql://", "postgresql+psycopg://")
            upgrade_to_head(DEFINITION.migrations_dir, url=url, schema=DEFINITION.schema)
            started = time.perf_counter()
            people = load(libpq_db, args.contacts, args.accounts, args.seed)
            print(f"contacts: {args.contacts:,} in {args.accounts:,} accounts loaded in {time.perf_counter() - started:.1f} s")
            asyncio.run(run(url, people, args.captures, args.seed))
        finally:
            if server is not None:
                server.stop()


if __name__ == "__main__":
    main()
