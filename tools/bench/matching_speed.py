"""Matching speed: one match against 1,000,000 accounts in PostgreSQL, and bulk deduplication of 100,000 records.

    .venv/bin/python -m tools.bench.matching_speed                       # 1M accounts, 1,000 queries, 100k bulk
    .venv/bin/python -m tools.bench.matching_speed --accounts 100000 --queries 300 --bulk 20000
    CRM_BENCH_DATABASE_URL=postgresql://... to use a running server instead of an embedded one
    --reuse postgresql://host:port/db   # a database a previous run loaded: skip generation and loading

The accounts are synthetic (region + brand + trade + legal form, the shape of Chinese company names); queries
are variants of stored accounts (legal form dropped or changed, region dropped or added, (集团) added,
traditional characters, one character mistyped). Each query runs the service's own search
(`customer_master.resolution.scored_candidates`: trigram candidates from PostgreSQL, scored in Python).
Recall compares it with an exhaustive scan of all accounts with the same scorer (`matching_scan.FullScan`: only
accounts that provably cannot reach the review threshold are skipped): a query is recalled when the blocked
candidates hold a best match of the full scan, i.e. an account at the full scan's top score, if that is at or above
the review threshold. Queries missed are printed with what the blocked search found instead.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import multiprocessing
import os
import random
import signal
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

from customer_master.app import DEFINITION
from customer_master.bulk import find_duplicates
from customer_master.matching import MatchRules, Record
from customer_master.names import CompanyName, normalize_company_name
from tools.bench.company_names import company_name, variant
from tools.bench.matching_scan import FullScan


def parse_all(names: list[str]) -> list[CompanyName]:
    """The service's own normalisation of every name (on every core)."""
    with multiprocessing.Pool(os.cpu_count() or 2) as pool:
        return pool.map(normalize_company_name, names, chunksize=5000)


def generate(count: int, seed: int) -> tuple[list[str], list[CompanyName]]:
    """count names and their normalised forms."""
    rng = random.Random(seed)
    names = [company_name(rng) for _ in range(count)]
    return names, parse_all(names)


def load(libpq_url: str, names: list[str], parsed: list[CompanyName]) -> tuple[list[uuid.UUID], float, float]:
    """COPY the accounts and their character pairs in (indexes built after); returns ids, copy and index seconds."""
    ids = [uuid.uuid4() for _ in names]
    with psycopg.connect(libpq_url, autocommit=True) as conn:
        conn.execute("DROP INDEX IF EXISTS customer_master.ix_customers_company_latin_trgm")
        conn.execute("ALTER TABLE customer_master.customer_grams DROP CONSTRAINT pk_customer_grams")
        conn.execute("DROP INDEX IF EXISTS customer_master.ix_customer_grams_customer_id")
        conn.execute("DROP INDEX IF EXISTS customer_master.ix_customer_grams_gram_weight")
        started = time.perf_counter()
        with conn.cursor().copy("COPY customer_master.customers (id, name, company, company_latin) FROM STDIN") as copy:
            for customer_id, name, company in zip(ids, names, parsed, strict=True):
                copy.write_row((customer_id, "", name, company.latin))
        columns = "gram, customer_id, weight, core, place"
        with conn.cursor().copy(f"COPY customer_master.customer_grams ({columns}) FROM STDIN") as copy:
            for customer_id, company in zip(ids, parsed, strict=True):
                grams = company.grams
                core = next((g[1:] for g in grams if g.startswith("=")), "")
                place = next((g[1:] for g in grams if g.startswith("^")), "")
                for gram in grams:
                    copy.write_row((gram, customer_id, 1.0 / len(grams), core, place))
        copied = time.perf_counter() - started
        started = time.perf_counter()
        conn.execute("SET maintenance_work_mem = '512MB'")
        conn.execute(
            "ALTER TABLE customer_master.customer_grams ADD CONSTRAINT pk_customer_grams PRIMARY KEY (gram, customer_id)"
        )
        conn.execute("CREATE INDEX ix_customer_grams_customer_id ON customer_master.customer_grams (customer_id)")
        conn.execute(
            "CREATE INDEX ix_customer_grams_gram_weight ON customer_master.customer_grams (gram) "
            "INCLUDE (customer_id, weight, core, place)"
        )
        conn.execute(
            "CREATE INDEX ix_customers_company_latin_trgm ON customer_master.customers "
            "USING gin (company_latin public.gin_trgm_ops)"
        )
        conn.execute("VACUUM ANALYZE customer_master.customers")
        conn.execute("VACUUM ANALYZE customer_master.customer_grams")
        indexed = time.perf_counter() - started
    return ids, copied, indexed


def percentile(values: list[float], share: float) -> float:
    """The value below which share of the values lie."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def run_queries(url: str, queries: list[str]) -> tuple[list[float], list[list[tuple[uuid.UUID, float]]], float]:
    """Each query through the service's search; latencies, scored candidates and the client's CPU seconds."""
    from crm_common.db import Database
    from customer_master.resolution import scored_candidates

    db = Database(url, pool_size=2, instrument=False)
    rules = MatchRules()
    latencies: list[float] = []
    results: list[list[tuple[uuid.UUID, float]]] = []
    for warm in queries[:50]:
        async with db.transaction() as conn:
            await scored_candidates(conn, Record(company=warm), rules)
    cpu = time.process_time()
    for query in queries:
        started = time.perf_counter()
        async with db.transaction() as conn:
            found = await scored_candidates(conn, Record(company=query), rules)
        latencies.append(time.perf_counter() - started)
        results.append([(c.row.id, c.result.fields[0].score or 0.0) for c in found])
    cpu = time.process_time() - cpu
    await db.engine.dispose()
    return latencies, results, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--recall-queries", type=int, default=1000)
    parser.add_argument("--bulk", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--reuse", help="libpq URL of a database a previous run loaded (its accounts are read back)")
    args = parser.parse_args()
    # SIGTERM unwinds like Ctrl-C, so the embedded server is stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.reuse:
        measure(args, args.reuse, args.reuse.replace("postgresql://", "postgresql+psycopg://"))
        return

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
            measure(args, libpq_db, url)
        finally:
            if server is not None:
                server.stop()


def measure(args: argparse.Namespace, libpq_url: str, url: str) -> None:
    """Load, query, compare with a full scan, deduplicate in bulk; print every figure."""
    if args.reuse:
        with psycopg.connect(libpq_url) as conn:
            rows = conn.execute("SELECT id, company FROM customer_master.customers").fetchall()
        ids, names = [r[0] for r in rows], [r[1] for r in rows]
        parsed = parse_all(names)
        print(f"accounts: {len(ids):,} read back from {libpq_url.rsplit('/', 1)[-1]}", flush=True)
    else:
        started = time.perf_counter()
        names, parsed = generate(args.accounts, args.seed)
        generated = time.perf_counter() - started
        ids, copied, indexed = load(libpq_url, names, parsed)
        print(
            f"accounts: {args.accounts:,} generated and normalised in {generated:.1f} s, COPY {copied:.1f} s, "
            f"indexes (character-pair btree and covering index, pinyin trigram GIN) + VACUUM ANALYZE {indexed:.1f} s",
            flush=True,
        )

    # A million parsed names are GC-tracked objects the service process never holds: without this, the collector's
    # full passes over them land inside the timed queries.
    gc.collect()
    gc.freeze()
    rng = random.Random(args.seed + 1)
    sources = [rng.randrange(len(names)) for _ in range(args.queries)]
    queries = [variant(names[i], rng) for i in sources]
    latencies, results, cpu = asyncio.run(run_queries(url, queries))
    ms = [x * 1000 for x in latencies]
    found = sum(ids[s] in {c for c, _ in r} for s, r in zip(sources, results, strict=True))
    top1 = sum(bool(r) and r[0][0] == ids[s] for s, r in zip(sources, results, strict=True))
    print(f"match query ({args.queries} queries, one connection, sequential, after 50 warm-up):")
    print(
        f"  p50 {percentile(ms, 0.5):.1f} ms  p90 {percentile(ms, 0.9):.1f} ms  p99 {percentile(ms, 0.99):.1f} ms"
        f"  max {max(ms):.1f} ms  mean {statistics.mean(ms):.1f} ms"
    )
    print(
        f"  the client (this process: SQLAlchemy + scoring in Python) used {cpu:.1f} s CPU for {sum(latencies):.1f} s wall"
    )
    print(f"  source account among the candidates: {found / len(sources):.3f}; ranked first: {top1 / len(sources):.3f}")
    recall(args, ids, names, parsed, queries, results)
    if args.bulk:
        bulk(args.bulk, names, rng)


def recall(
    args: argparse.Namespace,
    ids: list[uuid.UUID],
    names: list[str],
    parsed: list[CompanyName],
    queries: list[str],
    results: list[list[tuple[uuid.UUID, float]]],
) -> None:
    """Blocked candidates against the exhaustive scan: is a best match (≥ review) of the full scan among them?"""
    started = time.perf_counter()
    scan = FullScan(names, parsed)
    print(f"full-scan index over {len(names):,} accounts built in {time.perf_counter() - started:.1f} s", flush=True)
    rules = MatchRules()
    n = min(args.recall_queries, len(queries))
    started = time.perf_counter()
    with_match = best_found = every_best = auto_expected = auto_found = scored = 0
    missed: list[str] = []
    for query, result in zip(queries[:n], results[:n], strict=True):
        full, exact = scan.scan(query, rules.review)
        scored += exact
        blocked = dict(result)
        auto = {ids[i] for i, s in full.items() if s >= rules.auto_match}
        auto_expected += len(auto)
        auto_found += len(auto & {c for c, s in blocked.items() if s >= rules.auto_match})
        if not full:
            continue
        with_match += 1
        top = max(full.values())
        best = [ids[i] for i, s in full.items() if s == top]
        hit = any(c in blocked for c in best)
        best_found += hit
        every_best += all(c in blocked for c in best)
        if not hit:
            example = next(i for i, s in full.items() if s == top)
            missed.append(
                f"  missed: {query!r} (core {normalize_company_name(query).core}): full scan's best {top:.1f} "
                f"({len(best)} accounts, e.g. {names[example]!r}); blocked best {max(blocked.values(), default=0):.1f}"
            )
    seconds = (time.perf_counter() - started) / n
    print(
        f"recall of the blocked search against a full scan of all {len(names):,} accounts with the same scorer "
        f"({n} queries, {with_match} with a match ≥ review {rules.review:g}; full scan {seconds * 1000:.0f} ms and "
        f"{scored / n:.0f} exact scores per query):"
    )
    print(
        f"  recall (a best match of the full scan among the candidates): {best_found / max(with_match, 1):.4f} "
        f"({best_found}/{with_match}); every tied best match among them: {every_best / max(with_match, 1):.4f}; "
        f"accounts at auto-match (≥ {rules.auto_match:g}) found: {auto_found / max(auto_expected, 1):.4f} "
        f"({auto_found}/{auto_expected})"
    )
    print("\n".join(missed[:20]))


def bulk(count: int, names: list[str], rng: random.Random) -> None:
    """Deduplicate count records of which a tenth are variants of others; print time and quality."""
    originals = rng.sample(range(len(names)), count - count // 10)
    records = [Record(company=names[i]) for i in originals]
    truth = []
    for _ in range(count // 10):
        k = rng.randrange(len(originals))
        truth.append((k, len(records)))
        records.append(Record(company=variant(names[originals[k]], rng)))
    started = time.perf_counter()
    report = find_duplicates(records, MatchRules())
    seconds = time.perf_counter() - started
    cluster_of = {i: n for n, cluster in enumerate(report.clusters) for i in cluster}
    recovered = sum(a in cluster_of and cluster_of.get(a) == cluster_of.get(b) for a, b in truth)
    queued = {(min(i, j), max(i, j)) for i, j, _ in report.review_pairs}
    reviewed = sum((min(a, b), max(a, b)) in queued for a, b in truth)
    in_clusters = sum(len(c) for c in report.clusters)
    print(
        f"bulk deduplication of {count:,} records ({count // 10:,} planted variants): {seconds:.1f} s, "
        f"{report.candidate_pairs:,} candidate pairs, {len(report.clusters):,} clusters holding {in_clusters:,} "
        f"records, {len(report.review_pairs):,} pairs for review; planted duplicates merged {recovered / len(truth):.3f}, "
        f"queued for review {reviewed / len(truth):.3f}"
    )


if __name__ == "__main__":
    main()
