"""Pipeline: stage-change latency (gates included) with 100,000 open deals; stall detection with 1,000,000.

    .venv/bin/python -m tools.bench.pipeline                     # both parts, figures printed
    .venv/bin/python -m tools.bench.pipeline --open 100000 --stall-open 1000000 --moves 2000 --json

One embedded PostgreSQL of its own, the pipeline's migrations, the service's own functions (no gRPC: the part
measured is the one function every stage change goes through, in its transaction, commit included). Part 1 seeds
the open deals (two contacts each, so the gate passes on evidence it must read), then moves `--moves` random ones
to the next stage one after another and reports p50/p99/max. Part 2 grows the table to `--stall-open` open deals
whose stall clocks are due at random times over the next 30 days, makes `--due` of them due over the next 20 s,
runs the stall worker as the service runs it, and reports how late after its due time each was raised; meanwhile
it repeats part 1's moves, so the effect of the worker on serving shows. Figures only: nothing asserts on timing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text

from crm_common.identity import Principal, Role
from crm_common.migrations import upgrade_to_head
from crm_common.service import Runtime
from pipeline.app import DEFINITION
from pipeline.definitions import repository as definitions
from pipeline.definitions.model import parse, to_doc
from pipeline.deps import Deps
from pipeline.directory import OwnerInfo, StaticDirectory
from pipeline.settings import PipelineSettings
from pipeline.stages.move import change_stage
from pipeline.stalls import worker
from tools.devstack import infra

ADMIN = Principal(subject="bench", role=Role.ADMIN)
PIPELINE = {
    "name": "Bench",
    "stages": [
        {"key": "qualification", "name": "Q", "probability": 0.1,
         "actions": [{"key": "talk", "name": "Talk", "evidence": {"kind": "contact", "min": 2}}]},
        {"key": "demo", "name": "D", "probability": 0.3,
         "actions": [{"key": "date", "name": "Date", "evidence": {"kind": "field", "field": "expected_close_date"}}]},
        {"key": "proposal", "name": "P", "probability": 0.6},
        {"key": "won", "name": "W", "probability": 1, "outcome": "won"},
        {"key": "lost", "name": "L", "probability": 0, "outcome": "lost"},
    ],
    "skip_rules": [{"from": "qualification", "to": "proposal", "when": {"repeat_customer": True}}],
}

SEED = """
INSERT INTO pipeline.opportunities (id, customer_id, owner_id, team_id, stage, opened_at, stage_entered_at,
    pipeline_key, pipeline_version, name, amount, currency, expected_close_date, stall_due_at, stall_kind)
SELECT gen_random_uuid(), 'cust-' || (g % 50000), 'rep-' || (g % 200), 'team-' || (g % 20), 'qualification',
    now() - interval '1 day', now() - interval '1 day', 'bench', 1, 'deal ' || g, 1000 + g % 9000, 'CNY',
    current_date + (g % 120), now() + :spread * random() + interval '1 hour', 'stall'
FROM generate_series(:start, :stop) AS g
"""
CONTACTS = """
INSERT INTO pipeline.evidence (id, opportunity_id, kind, stage, by, at)
SELECT gen_random_uuid(), o.id, 'contact', 'qualification', 'bench', now() - interval '1 hour'
FROM pipeline.opportunities o, generate_series(1, 2)
WHERE o.stage = 'qualification' AND NOT EXISTS (SELECT 1 FROM pipeline.evidence e WHERE e.opportunity_id = o.id)
"""


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _seed(runtime: Runtime, *, start: int, stop: int, spread_days: int) -> float:
    began = time.perf_counter()
    async with runtime.db.transaction() as conn:
        for lo in range(start, stop + 1, 100_000):
            hi = min(stop, lo + 99_999)
            await conn.execute(
                text(SEED).bindparams(start=lo, stop=hi, spread=timedelta(days=spread_days))
            )
    async with runtime.db.transaction() as conn:
        await conn.execute(text(CONTACTS))
    async with runtime.db.connect() as conn:
        await conn.execute(text("ANALYZE pipeline.opportunities"))
        await conn.execute(text("ANALYZE pipeline.evidence"))
        await conn.commit()
    return time.perf_counter() - began


async def _moves(runtime: Runtime, deps: Deps, count: int) -> list[float]:
    """Latency (ms) of moving `count` random open deals to the next stage, one after another."""
    async with runtime.db.connect() as conn:
        ids = [
            r[0]
            for r in (
                await conn.execute(
                    text(
                        "SELECT id FROM pipeline.opportunities WHERE stage = 'qualification' "
                        "ORDER BY random() LIMIT :n"
                    ).bindparams(n=count)
                )
            ).all()
        ]
    took = []
    for opportunity_id in ids:
        began = time.perf_counter()
        async with runtime.db.transaction() as conn:
            result = await change_stage(conn, deps, opportunity_id=opportunity_id, to="demo", reason="", principal=ADMIN)
        took.append((time.perf_counter() - began) * 1000)
        assert result.allowed
    return took


def _summary(name: str, values: list[float], unit: str) -> dict[str, Any]:
    out = {
        "name": name, "n": len(values), "p50": round(statistics.median(values), 2),
        "p99": round(_pct(values, 0.99), 2), "max": round(max(values), 2), "unit": unit,
    }
    print(f"{name:48s} n={out['n']:6d} p50={out['p50']:8.2f} p99={out['p99']:8.2f} max={out['max']:8.2f} {unit}")
    return out


async def run(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {"started_at": datetime.now(UTC).isoformat(timespec="seconds")}
    with tempfile.TemporaryDirectory(prefix="crm-bench-pipeline-") as tmp:
        pg = infra.PostgresServer(Path(tmp) / "pg")
        pg.start()
        try:
            await asyncio.to_thread(upgrade_to_head, DEFINITION.migrations_dir, url=pg.url, schema=DEFINITION.schema)
            settings = PipelineSettings(environment="test", database_url=pg.url, nats_url="nats://127.0.0.1:1")
            runtime = Runtime(DEFINITION, settings)
            deps = Deps(
                runtime=runtime,
                directory=StaticDirectory({f"rep-{i}": OwnerInfo(team_id=f"team-{i % 20}") for i in range(200)}),
            )
            async with runtime.db.transaction() as conn:
                doc = to_doc(parse("bench", PIPELINE))
                await definitions.insert_version(
                    conn, key="bench", definition=doc, created_by="bench", created_at=datetime.now(UTC), reason="bench"
                )
            seeded = await _seed(runtime, start=1, stop=args.open, spread_days=30)
            print(f"seeded {args.open} open deals (2 contacts each) in {seeded:.1f} s")
            await _moves(runtime, deps, 200)  # warm-up: connections, caches, plans
            results["stage_change_100k"] = _summary(
                f"stage change with {args.open} open deals", await _moves(runtime, deps, args.moves), "ms"
            )

            seeded = await _seed(runtime, start=args.open + 1, stop=args.stall_open, spread_days=30)
            print(f"grew to {args.stall_open} open deals in {seeded:.1f} s")
            now = datetime.now(UTC)
            due_at = {}
            async with runtime.db.transaction() as conn:
                rows = (
                    await conn.execute(
                        text("SELECT id FROM pipeline.opportunities WHERE stage = 'qualification' ORDER BY random() LIMIT :n")
                        .bindparams(n=args.due)
                    )
                ).all()
                for (opportunity_id,) in rows:
                    when = now + timedelta(seconds=5 + random.random() * 20)
                    due_at[opportunity_id] = when
                    await conn.execute(
                        text("UPDATE pipeline.opportunities SET stall_due_at = :at, stall_kind = 'stall' WHERE id = :id")
                        .bindparams(at=when, id=opportunity_id)
                    )
            wake = asyncio.Event()
            task = asyncio.create_task(worker.run(deps, wake))
            try:
                serving = await _moves(runtime, deps, args.moves)
                await asyncio.sleep(max(0.0, (now + timedelta(seconds=30) - datetime.now(UTC)).total_seconds()))
            finally:
                task.cancel()
            async with runtime.db.connect() as conn:
                raised = {
                    r.opportunity_id: r.at
                    for r in (
                        await conn.execute(
                            text("SELECT opportunity_id, min(at) AS at FROM pipeline.notifications "
                                 "WHERE kind = 'stalled' GROUP BY opportunity_id")
                        )
                    ).all()
                }
                moved = {
                    r[0]
                    for r in (
                        await conn.execute(
                            text("SELECT id FROM pipeline.opportunities WHERE id = ANY(:ids) AND stage <> 'qualification'")
                            .bindparams(ids=list(due_at))
                        )
                    ).all()
                }
            late = [(raised[i] - d).total_seconds() for i, d in due_at.items() if i in raised]
            results["stall_lateness_1m"] = _summary(
                f"stall raised after due, {args.stall_open} open deals", late, "s"
            ) | {"missed": len(due_at) - len(late)}
            print(
                f"  stalls due {len(due_at)}, raised {len(late)}, not raised {len(due_at) - len(late)} "
                f"(of which moved on before due, their clock restarted: {len(moved - set(raised))})"
            )
            results["stage_change_1m_with_worker"] = _summary(
                f"stage change with {args.stall_open} deals + stall worker", serving, "ms"
            )
            await runtime.close()
        finally:
            pg.stop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--open", type=int, default=100_000, help="open deals for the stage-change part")
    parser.add_argument("--stall-open", type=int, default=1_000_000, help="open deals for the stall part")
    parser.add_argument("--moves", type=int, default=2000)
    parser.add_argument("--due", type=int, default=1000, help="stalls made due over the next 5-25 s")
    parser.add_argument("--json", action="store_true", help="also write .dev/bench/pipeline.json")
    args = parser.parse_args()
    results = asyncio.run(run(args))
    if args.json:
        out = Path(".dev/bench/pipeline.json")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
