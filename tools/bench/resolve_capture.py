"""CPU per ResolveCustomer: milliseconds of this process and of PostgreSQL, and round trips, per resolve.

`python -m tools.bench.resolve_capture [--resolves 500] [--customers 20000]` starts a PostgreSQL of its own,
migrates the customer-master schema, COPYs `--customers` customers in (Chinese company names in the shape of
real ones, a person, a phone) and calls `customer_master.resolution.resolve_customer` in this process, one
resolve at a time, in three phases of `--resolves` each (after a warm-up):

- new: a company never seen, a new phone, a person (what most leads are: a customer is created);
- returning: a stored company written another way (`company_names.variant`), a new phone: the fuzzy search
  decides (auto-match, or a new customer and maybe a review);
- known phone: the phone of a stored customer (an exact key matches).

For each phase it prints CPU ms per resolve of this process and of PostgreSQL (backends included), round trips
per resolve (statements, plus BEGIN and COMMIT), wall p50/p99 and the outcomes; then the whole stack's mix
(four new leads to one returning). Each round (`--rounds`) ends with the contact intake worker draining what its
phases queued, in batches of `--intake-batch` (the worker's batch is what arrived in its 0.2 s rest: about one
at idle, twenty at 100 leads/s), and its CPU per person.
Spans are recorded as in the service (not exported); logs below ERROR are off. Figures only.

The first round scores candidates this process has not parsed before (as after a restart, or with many customers);
in later rounds most names are in the parser's cache, so compare round with round. `--profile N` prints the top N
functions by CPU time over the measured phases. The machine's other load moves CPU seconds too: compare runs made
back to back, several times.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import logging
import os
import pstats
import random
import statistics
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import event

from crm_common.migrations import upgrade_to_head
from crm_common.service import Runtime
from crm_common.telemetry import setup_telemetry
from customer_master import contact_intake
from customer_master.app import DEFINITION
from customer_master.domain import normalize_company
from customer_master.names import normalize_company_name
from customer_master.resolution import ResolveRequest, resolve_customer
from customer_master.settings import CustomerMasterSettings
from tools.bench.company_names import company_name, person_name, variant
from tools.bench.loadgen import tree_cpu_seconds
from tools.devstack import infra

WARM_UP = 100
# The whole-stack benchmark's lead forms: a fifth come back from a company captured before.
RETURNING_SHARE = 0.2


@dataclass
class Stored:
    """A preloaded customer."""

    company: str
    phone: str


@dataclass
class Phase:
    """One phase's figures."""

    name: str
    resolves: int
    own_ms: float
    postgres_ms: float
    round_trips: float
    p50_ms: float
    p99_ms: float
    outcomes: Counter[str]


def preload(libpq_url: str, count: int, seed: int) -> list[Stored]:
    """COPY count customers (unique company key and phone) and their search keys in, then ANALYZE."""
    rng = random.Random(seed)
    stored: list[Stored] = []
    keys: set[str] = set()
    with psycopg.connect(libpq_url, autocommit=True) as conn:
        columns = "id, name, company, company_normalized, phone_e164, company_latin"
        grams: list[tuple[Any, ...]] = []
        with conn.cursor().copy(f"COPY customer_master.customers ({columns}) FROM STDIN") as copy:
            while len(stored) < count:
                company = company_name(rng)
                key = normalize_company(company)
                if key is None or key in keys:
                    continue
                keys.add(key)
                customer_id, phone = uuid.uuid4(), f"+86137{len(stored):08d}"
                parsed = normalize_company_name(company)
                copy.write_row((customer_id, person_name(rng), company, key, phone, parsed.latin or None))
                core = next((g[1:] for g in parsed.grams if g.startswith("=")), "")
                place = next((g[1:] for g in parsed.grams if g.startswith("^")), "")
                grams.extend((g, customer_id, 1.0 / len(parsed.grams), core, place) for g in parsed.grams)
                stored.append(Stored(company, phone))
        with conn.cursor().copy(
            "COPY customer_master.customer_grams (gram, customer_id, weight, core, place) FROM STDIN"
        ) as copy:
            for row in grams:
                copy.write_row(row)
        conn.execute("VACUUM ANALYZE customer_master.customers")
        conn.execute("VACUUM ANALYZE customer_master.customer_grams")
    # The service parses a candidate's name when it first meets it: start as a process that has met none.
    normalize_company_name.cache_clear()
    return stored


class Requests:
    """Resolve requests of each kind, never repeating a new company or a new phone."""

    def __init__(self, stored: list[Stored], seed: int) -> None:
        self.stored = stored
        self.rng = random.Random(seed)
        self.seq = 0
        self.known = {normalize_company(s.company) for s in stored}

    def _next(self) -> tuple[int, str]:
        self.seq += 1
        return self.seq, f"+86139{self.seq:08d}"

    def new(self) -> ResolveRequest:
        seq, phone = self._next()
        company = company_name(self.rng)
        while normalize_company(company) in self.known:
            company = company_name(self.rng)
        self.known.add(normalize_company(company))
        return ResolveRequest(name=person_name(self.rng), company=company, phone=phone, source_ref=f"lead:{seq}")

    def returning(self) -> ResolveRequest:
        seq, phone = self._next()
        company = variant(self.rng.choice(self.stored).company, self.rng)
        return ResolveRequest(name=person_name(self.rng), company=company, phone=phone, source_ref=f"lead:{seq}")

    def known_phone(self) -> ResolveRequest:
        seq, _ = self._next()
        customer = self.rng.choice(self.stored)
        return ResolveRequest(
            name=person_name(self.rng), company=customer.company, phone=customer.phone, source_ref=f"lead:{seq}"
        )


def _outcome(created: bool, matched_on: str, review_id: str) -> str:
    if created:
        return "created + review" if review_id else "created"
    return f"matched on {matched_on}"


async def run_phase(
    runtime: Runtime, pg_pid: int, name: str, requests: list[ResolveRequest], counter: list[int]
) -> Phase:
    """Resolve each request in turn; CPU of both processes over the phase, round trips and latency per resolve."""
    latencies: list[float] = []
    outcomes: Counter[str] = Counter()
    trips = counter[0]
    own, postgres = time.process_time(), tree_cpu_seconds(pg_pid)
    for request in requests:
        started = time.perf_counter()
        resolution = await resolve_customer(runtime, request)
        latencies.append(time.perf_counter() - started)
        outcomes[_outcome(resolution.created, resolution.matched_on, resolution.review_id)] += 1
    own, postgres = time.process_time() - own, tree_cpu_seconds(pg_pid) - postgres
    latencies.sort()
    n = len(requests)
    return Phase(
        name=name,
        resolves=n,
        own_ms=1000 * own / n,
        postgres_ms=1000 * postgres / n,
        round_trips=(counter[0] - trips) / n,
        p50_ms=1000 * statistics.median(latencies),
        p99_ms=1000 * latencies[min(n - 1, int(0.99 * n))],
        outcomes=outcomes,
    )


def count_round_trips(runtime: Runtime) -> list[int]:
    """A counter of the statements the engine sends, plus one BEGIN and one COMMIT or ROLLBACK per transaction."""
    counter = [0]

    def one(*_: object, **__: object) -> None:
        counter[0] += 1

    engine = runtime.db.engine.sync_engine
    for name in ("before_cursor_execute", "begin", "commit", "rollback"):
        event.listen(engine, name, one)
    return counter


def print_phase(phase: Phase) -> None:
    """One line of a phase's figures."""
    outcomes = ", ".join(f"{k} {v}" for k, v in sorted(phase.outcomes.items()))
    print(
        f"  {phase.name:<12} CPU per resolve {phase.own_ms:5.2f} ms here + {phase.postgres_ms:5.2f} ms PostgreSQL; "
        f"{phase.round_trips:5.2f} round trips; wall p50/p99 {phase.p50_ms:5.2f} / {phase.p99_ms:5.2f} ms  "
        f"({outcomes})",
        flush=True,
    )


async def measure(pg: infra.PostgresServer, url: str, args: argparse.Namespace, stored: list[Stored]) -> None:
    """Warm up, then each round's phases and the intake worker's drain; prints as it goes."""
    runtime = Runtime(DEFINITION, CustomerMasterSettings(environment="test", database_url=url))
    counter = count_round_trips(runtime)
    requests = Requests(stored, args.seed + 1)
    try:
        warm = [requests.new() if i % 2 else requests.returning() for i in range(WARM_UP)]
        warm += [requests.known_phone() for _ in range(WARM_UP // 4)]
        for request in warm:
            await resolve_customer(runtime, request)
        await _drain(runtime, args.intake_batch)
        profile = cProfile.Profile(time.process_time) if args.profile else None
        for round_ in range(args.rounds):
            print(f"round {round_ + 1} of {args.rounds} ({args.resolves} resolves per phase, sequential):")
            phases = {}
            for name, make in (
                ("new", requests.new),
                ("returning", requests.returning),
                ("known phone", requests.known_phone),
            ):
                batch = [make() for _ in range(args.resolves)]
                if profile is not None:
                    profile.enable()
                phases[name] = await run_phase(runtime, pg.pid or 0, name, batch, counter)
                if profile is not None:
                    profile.disable()
                print_phase(phases[name])
            new, back = phases["new"], phases["returning"]
            mix = {
                f: (1 - RETURNING_SHARE) * getattr(new, f) + RETURNING_SHARE * getattr(back, f)
                for f in ("own_ms", "postgres_ms", "round_trips")
            }
            print(
                f"  {'stack mix':<12} CPU per resolve {mix['own_ms']:5.2f} ms here + {mix['postgres_ms']:5.2f} ms "
                f"PostgreSQL; {mix['round_trips']:5.2f} round trips (4 new : 1 returning)"
            )
            own, postgres = time.process_time(), tree_cpu_seconds(pg.pid)
            people = await _drain(runtime, args.intake_batch)
            own, postgres = time.process_time() - own, tree_cpu_seconds(pg.pid) - postgres
            print(
                f"  intake worker, batches of {args.intake_batch}: {people} people, CPU per person "
                f"{1000 * own / max(people, 1):.2f} ms here + {1000 * postgres / max(people, 1):.2f} ms PostgreSQL",
                flush=True,
            )
        if profile is not None:
            pstats.Stats(profile).sort_stats("cumulative").print_stats(args.profile)
    finally:
        await runtime.close()


async def _drain(runtime: Runtime, batch: int) -> int:
    """Link every queued person, batch at a time; how many there were."""
    people = 0
    while taken := await contact_intake.process_intake(runtime.db, batch=batch):
        people += taken
    return people


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolves", type=int, default=500, help="resolves measured per phase")
    parser.add_argument("--customers", type=int, default=20_000, help="customers preloaded")
    parser.add_argument("--rounds", type=int, default=1, help="times the three phases are repeated")
    parser.add_argument("--intake-batch", type=int, default=20, help="people the intake worker links per batch")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="print cProfile's top N functions")
    args = parser.parse_args()
    os.environ.setdefault("CRM_ENVIRONMENT", "development")
    logging.basicConfig(level=logging.ERROR)
    # As in the service: spans are recorded, not exported.
    os.environ.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
    os.environ.pop("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", None)
    setup_telemetry("customer-master")
    with tempfile.TemporaryDirectory(prefix="resolve-capture-") as tmp:
        pg = infra.PostgresServer(Path(tmp) / "pg")
        pg.start()
        try:
            name = f"bench_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(pg.libpq_url, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            libpq_url = pg.libpq_url.rsplit("/", 1)[0] + f"/{name}"
            upgrade_to_head(DEFINITION.migrations_dir, url=libpq_url, schema=DEFINITION.schema)
            started = time.perf_counter()
            stored = preload(libpq_url, args.customers, args.seed)
            print(f"customers: {len(stored):,} preloaded in {time.perf_counter() - started:.1f} s", flush=True)
            # As the services on this machine: over the server's unix socket.
            url = pg.socket_url.replace(f"@/{pg.database}?", f"@/{name}?")
            asyncio.run(measure(pg, url, args, stored))
        finally:
            pg.stop()


if __name__ == "__main__":
    main()
