"""Reporting: every report's latency over generated projections, projection apply rate, a streamed export.

    .venv/bin/python -m tools.bench.reporting                        # the issue's sizes (3M opportunities, 2M leads)
    .venv/bin/python -m tools.bench.reporting --scale 0.1 --json     # a tenth of them

One embedded PostgreSQL of its own and reporting's migrations. The data generator fills the projections with
SQL (generate_series), as the consumers would leave them after the events: `--scale` × 2,000,000 leads (captured,
assigned, most claimed and contacted: about 3.5 events each) and × 3,000,000 opportunities (opened, 1-4 stage
moves, 0-2 actions), over 180 days, 50 teams, 1,000 reps, 3 pipelines. Then: the apply rate of the live
consumers' batch handler (lead events in batches of 64, each batch one transaction, inbox excluded); each report
`--runs` times through the service's own budgeted runner (cold first run included) with p50/p99/max; and the
drill-down of the biggest heatmap cell exported as CSV through a server-side cursor, with the process's peak RSS
before and after. Figures only: nothing asserts on timing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text

from crm.events.v1 import lead_events_pb2
from crm_common.bus.consumer import EventMeta
from crm_common.identity import Principal, Role
from crm_common.migrations import upgrade_to_head
from crm_common.service import Runtime
from reporting.app import DEFINITION
from reporting.convert import to_timestamp
from reporting.exports.service import export
from reporting.projections.consumers import CONSUMERS
from reporting.reports.domain import Question, Visibility
from reporting.reports.runner import answer
from reporting.settings import ReportingSettings
from tools.devstack import infra

BASE = datetime(2026, 6, 1, tzinfo=ZoneInfo("Asia/Shanghai"))
SEED = [
    # Leads: dimensions from small lists, times over 180 days.
    """INSERT INTO reporting.lead_fact (lead_id, channel, province, industry, customer_id, team_id, rep_id,
        captured_at, first_assigned_at, assigned_at, claimed_at, first_contact_at, last_touch_at, assignments,
        reassignments, pool_returns, claim_windows_lapsed)
    SELECT 'L' || i, (ARRAY['web','phone','wechat','expo','partner','ads'])[1 + i % 6], 'P' || (i % 31),
        CASE WHEN i % 10 = 0 THEN NULL ELSE 'I' || (i % 12) END, CASE WHEN i % 4 = 0 THEN NULL ELSE 'C' || (i / 3) END,
        't' || (i % 50), 'r' || (i % 1000), c, c + a, c + a, CASE WHEN i % 10 <> 0 THEN c + a * 6 END,
        CASE WHEN i % 3 <> 0 THEN c + a * 20 END, c + a * 20, 1 + (i % 200 = 0)::int, (i % 50 = 0)::int,
        (i % 40 = 0)::int, (i % 25 = 0)::int
    FROM (SELECT i, :base + (random() * 180) * interval '1 day' AS c, (5 + random() * 600) * interval '1 second' AS a
          FROM generate_series(1, :leads) AS i) g""",
    """INSERT INTO reporting.opportunity_fact (opportunity_id, lead_id, customer_id, owner_id, team_id, pipeline,
        stage, status, opened_at, closed_at)
    SELECT 'O' || i, CASE WHEN i % 3 <> 0 THEN 'L' || (1 + i % :leads) END, 'C' || i, 'r' || (i % 1000),
        't' || (i % 50), 'p' || (i % 3), s.stage, s.status, o, CASE WHEN s.status <> 'open' THEN o + interval '20 days' END
    FROM (SELECT i, :base + (random() * 180) * interval '1 day' AS o, i % 10 AS k FROM generate_series(1, :opps) i) g
    CROSS JOIN LATERAL (SELECT CASE WHEN k < 2 THEN 'won' WHEN k < 4 THEN 'lost' WHEN k < 6 THEN 'proposal'
        WHEN k < 8 THEN 'demo' ELSE 'qualify' END AS stage,
        CASE WHEN k < 2 THEN 'won' WHEN k < 4 THEN 'lost' ELSE 'open' END AS status) s""",
    # Visits: every opportunity reached qualify; later stages by its current one.
    """INSERT INTO reporting.stage_visit (opportunity_id, stage, entered_at, left_at)
    SELECT o.opportunity_id, v.stage, o.opened_at + v.n * interval '5 days',
        CASE WHEN v.n < r.last THEN o.opened_at + (v.n + 1) * interval '5 days' END
    FROM reporting.opportunity_fact o
    CROSS JOIN LATERAL (SELECT CASE o.stage WHEN 'qualify' THEN 0 WHEN 'demo' THEN 1 WHEN 'proposal' THEN 2
        ELSE 3 END AS last) r
    CROSS JOIN LATERAL (SELECT n, CASE n WHEN 0 THEN 'qualify' WHEN 1 THEN 'demo' WHEN 2 THEN 'proposal'
        ELSE o.stage END AS stage FROM generate_series(0, r.last) n) v""",
    """INSERT INTO reporting.stage_action (opportunity_id, stage, action, completed_at)
    SELECT opportunity_id, stage, CASE stage WHEN 'qualify' THEN 'needs_analysis' ELSE 'demo_done' END,
        entered_at + interval '1 day'
    FROM reporting.stage_visit WHERE stage IN ('qualify', 'demo') AND hashtext(opportunity_id) % 10 <> 0""",
    "ANALYZE reporting.lead_fact", "ANALYZE reporting.opportunity_fact", "ANALYZE reporting.stage_visit",
    "ANALYZE reporting.stage_action",
]
QUESTIONS: list[tuple[str, dict[str, str]]] = [
    ("kpi", {}),
    ("funnel", {"from": "2026-08-01", "to": "2026-08-31"}),
    ("funnel", {"from": "2026-08-01", "to": "2026-08-31", "group_by": "team,channel"}),
    ("assignment-health", {"date": "2026-08-03"}),
    ("data-health", {"date": "2026-08-03"}),
    ("stage-actions", {"pipeline": "p1"}),
]


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _seed(runtime: Runtime, *, leads: int, opps: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for sql in SEED:
        started = time.perf_counter()
        async with runtime.db.transaction() as conn:
            await conn.execute(text(sql), {"base": BASE, "leads": leads, "opps": opps})
        out[sql.split()[2] if sql.startswith("INSERT") else sql] = round(time.perf_counter() - started, 1)
    async with runtime.db.connect() as conn:
        for table in ("lead_fact", "opportunity_fact", "stage_visit", "stage_action"):
            out[f"rows.{table}"] = (await conn.execute(text(f"SELECT count(*) FROM reporting.{table}"))).scalar_one()
    return out


async def _apply_rate(runtime: Runtime, events: int) -> float:
    batch_of = {spec.subject: spec.batch_handler for spec in CONSUMERS}
    now = datetime.now(UTC)
    started = time.perf_counter()
    for start in range(0, events, 128):
        captured, assigned = [], []
        for i in range(start, start + 64):
            lead_id = str(uuid.uuid4())
            meta = EventMeta(event_id=lead_id, subject="", published_at=now, delivery=1)
            captured.append((lead_events_pb2.LeadCaptured(lead_id=lead_id, channel="web", province="P1",
                                                          captured_at=to_timestamp(now)), meta))
            assigned.append((lead_events_pb2.LeadAssigned(lead_id=lead_id, assignee_id=f"r{i % 1000}", team_id="t1",
                                                          assigned_at=to_timestamp(now)), meta))
        for subject, batch in (("crm.lead.captured", captured), ("crm.lead.assigned", assigned)):
            async with runtime.db.transaction() as conn:
                await batch_of[subject](conn, batch)  # type: ignore[misc]
    return events / (time.perf_counter() - started)


async def _reports(runtime: Runtime, runs: int, budget_ms: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, parameters in QUESTIONS:
        seconds: list[float] = []
        stale = 0
        for _ in range(runs):
            q = Question(report=name, parameters=parameters, visibility=Visibility(), zone=ZoneInfo("Asia/Shanghai"))
            started = time.perf_counter()
            got = await answer(runtime.db, q, budget_ms=budget_ms, retry_after_seconds=5)
            seconds.append(time.perf_counter() - started)
            stale += got.stale
        label = name + ("(" + parameters["group_by"] + ")" if "group_by" in parameters else "")
        out[label] = {"first_ms": round(seconds[0] * 1000, 1), "p50_ms": round(statistics.median(seconds) * 1000, 1),
                      "p99_ms": round(_pct(seconds, 0.99) * 1000, 1), "max_ms": round(max(seconds) * 1000, 1),
                      "stale": stale}
    return out


async def _export(runtime: Runtime) -> dict[str, Any]:
    q = Question(report="stage-action-opportunities", parameters={"pipeline": "", "stage": "qualify",
                                                                   "action": "needs_analysis"},
                 visibility=Visibility(), zone=ZoneInfo("Asia/Shanghai"))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    size = 0
    async for chunk in export(runtime.db, q, fmt="csv", principal=Principal(subject="bench", role=Role.ADMIN),
                              caller_name="bench", client="bench", request_id="bench", answer=None):
        size += len(chunk)
    seconds = time.perf_counter() - started
    async with runtime.db.connect() as conn:
        rows = (await conn.execute(text("SELECT rows FROM reporting.export_audit ORDER BY exported_at DESC LIMIT 1"))
                ).scalar_one()
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"rows": rows, "mb": round(size / 1e6, 1), "seconds": round(seconds, 1),
            "rows_per_s": round(rows / seconds), "peak_rss_mb_before": round(before / 1024),
            "peak_rss_mb_after": round(after / 1024)}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--apply-events", type=int, default=20000)
    # Large by default, to measure each report's own time (the service's default budget is 2,000 ms).
    parser.add_argument("--budget-ms", type=int, default=120_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    leads, opps = int(2_000_000 * args.scale), int(3_000_000 * args.scale)
    with tempfile.TemporaryDirectory(prefix="crm-bench-reporting-") as tmp:
        pg = infra.PostgresServer(Path(tmp) / "pg")
        pg.start()
        try:
            url = pg.url
            await asyncio.to_thread(upgrade_to_head, DEFINITION.migrations_dir, url=url, schema=DEFINITION.schema)
            runtime = Runtime(DEFINITION, ReportingSettings(environment="test", database_url=url))
            figures: dict[str, Any] = {"leads": leads, "opportunities": opps}
            figures["seed_seconds"] = await _seed(runtime, leads=leads, opps=opps)
            figures["apply_events_per_s"] = round(await _apply_rate(runtime, args.apply_events))
            figures["reports"] = await _reports(runtime, args.runs, args.budget_ms)
            figures["export_csv"] = await _export(runtime)
            await runtime.close()
        finally:
            pg.stop()
    if args.json:
        print(json.dumps(figures, indent=2, default=str))
        return
    for key, value in figures.items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    asyncio.run(main())
