"""CPU per capture of the lead service's own path: milliseconds of the lead process and of PostgreSQL per lead.

`python -m tools.bench.lead_capture [--leads 600] [--concurrency 16]` starts a PostgreSQL and a nats-server of
its own, migrates the lead schema, creates a team of three reps and a round-robin rule, and captures leads
through `LeadServicer.CaptureLead` in this process with the outbox relay running, until every event is
published. It prints CPU ms per capture of this process and of PostgreSQL (backends included) and the capture
latency p50/p99. Figures only.

What it leaves out, on purpose: the gRPC server and the edge (lead_throughput measures the whole stack) and the
customer master (its address refuses connections, so the lead is kept unresolved and no customer event is
written). What remains is the part of a capture the lead service owns: validation, SQL, routing, the outbox,
with their spans recorded as in the service (not exported).
CPU seconds are counted per process, so other load on the machine moves the figures far less than the
whole-stack benchmark's (still noticeably: compare runs made back to back).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
from sqlalchemy import func, select

from crm.lead.v1 import lead_pb2
from crm_common.bus.outbox import OutboxRelay
from crm_common.migrations import upgrade_to_head
from crm_common.service import Runtime
from crm_common.settings import PeerAddresses
from crm_common.telemetry import setup_telemetry
from lead.app import DEFINITION
from lead.handlers import LeadServicer
from tools.bench.loadgen import tree_cpu_seconds
from tools.devstack import infra

DEMO_CAPACITY = 100_000


def _request(seq: int) -> lead_pb2.CaptureLeadRequest:
    lead = lead_pb2.LeadInput(
        name=f"Bench Lead {seq}",
        phone=f"+86 139{seq:08d}",
        company=f"Bench Company {seq}",
        source=lead_pb2.Source(channel="web_form"),
    )
    return lead_pb2.CaptureLeadRequest(lead=lead)


async def _seed(servicer: LeadServicer) -> None:
    team = (await servicer.CreateTeam(lead_pb2.CreateTeamRequest(name="Bench"), None)).team
    for i in range(3):
        rep = (await servicer.CreateRep(lead_pb2.CreateRepRequest(name=f"rep{i}", team_id=team.id), None)).rep
        await servicer.UpdateRep(lead_pb2.UpdateRepRequest(rep_id=rep.id, capacity=DEMO_CAPACITY), None)
    rule = lead_pb2.RoutingRule(name="default", priority=1000, team_id=team.id)
    await servicer.PutRoutingRule(lead_pb2.PutRoutingRuleRequest(rule=rule), None)


async def _capture_all(servicer: LeadServicer, first: int, count: int, concurrency: int) -> list[float]:
    """Capture `count` leads, `concurrency` at a time; the latency of each in seconds."""
    gate = asyncio.Semaphore(concurrency)
    latencies: list[float] = []

    async def one(seq: int) -> None:
        async with gate:
            started = time.perf_counter()
            reply = await servicer.CaptureLead(_request(seq), None)
            latencies.append(time.perf_counter() - started)
            if not reply.lead.assignee_id:
                raise RuntimeError(f"lead {seq} was not assigned")

    await asyncio.gather(*(one(first + i) for i in range(count)))
    return latencies


async def _outbox_empty(runtime: Runtime, within: float = 60.0) -> None:
    outbox = runtime.definition.outbox
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        async with runtime.db.connect() as conn:
            if not await conn.scalar(select(func.count()).select_from(outbox)):
                return
        await asyncio.sleep(0.05)
    raise RuntimeError("the outbox relay did not publish every event")


async def measure(pg: infra.PostgresServer, nats_url: str, leads: int, concurrency: int) -> dict[str, float]:
    """Warm up, then capture `leads` and wait for their events to be published; CPU and latency figures."""
    name = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg.libpq_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = pg.url.rsplit("/", 1)[0] + f"/{name}"
    await asyncio.to_thread(upgrade_to_head, DEFINITION.migrations_dir, url=url, schema=DEFINITION.schema)
    settings = DEFINITION.settings().model_copy(
        update={"database_url": url, "nats_url": nats_url, "resolve_timeout_seconds": 0.5}
    )
    runtime = Runtime(DEFINITION, settings)
    runtime.peers = PeerAddresses(customer_master_addr="127.0.0.1:1")
    await runtime.connect_bus()
    assert runtime.js is not None
    runtime.relay = OutboxRelay(
        db=runtime.db, outbox=DEFINITION.outbox, js=runtime.js, libpq_url=runtime.libpq_url(), poll_seconds=0.5
    )
    relay = asyncio.create_task(runtime.relay.run())
    try:
        servicer = LeadServicer(runtime)
        await _seed(servicer)
        await _capture_all(servicer, 0, 100, concurrency)  # warm-up: connections, prepared statements, caches
        await _outbox_empty(runtime)
        own, postgres, wall = time.process_time(), tree_cpu_seconds(pg.pid), time.perf_counter()
        latencies = await _capture_all(servicer, 100, leads, concurrency)
        await _outbox_empty(runtime)
        own, postgres = time.process_time() - own, tree_cpu_seconds(pg.pid) - postgres
        wall = time.perf_counter() - wall
    finally:
        runtime.relay.stop()
        await asyncio.wait_for(relay, 5)
        await runtime.close()
    latencies.sort()
    return {
        "leads": leads,
        "lead_ms": 1000 * own / leads,
        "postgres_ms": 1000 * postgres / leads,
        "leads_per_second": leads / wall,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=600, help="captures measured (after 100 of warm-up)")
    parser.add_argument("--concurrency", type=int, default=16, help="captures in flight at once")
    args = parser.parse_args()
    os.environ.setdefault("CRM_ENVIRONMENT", "development")
    # The refused customer-master call warns once per capture; its log lines are not what is measured.
    logging.basicConfig(level=logging.ERROR)
    # As in the service: spans are recorded (gRPC is absent here, SQL and the outbox are not), not exported.
    os.environ.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
    os.environ.pop("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", None)
    setup_telemetry("lead")
    with tempfile.TemporaryDirectory(prefix="lead-capture-") as tmp:
        pg = infra.PostgresServer(Path(tmp) / "pg")
        nats = infra.NatsServer(Path(tmp) / "nats")
        pg.start()
        nats.start()
        try:
            figures = asyncio.run(measure(pg, nats.url, args.leads, args.concurrency))
        finally:
            nats.stop()
            pg.stop()
    print(
        f"lead capture, {figures['leads']:.0f} leads, {args.concurrency} in flight: "
        f"CPU per capture {figures['lead_ms']:.2f} ms in the lead process (relay included), "
        f"{figures['postgres_ms']:.2f} ms in PostgreSQL; {figures['leads_per_second']:.0f} captures/s; "
        f"latency p50/p99 {figures['p50_ms']:.1f} / {figures['p99_ms']:.1f} ms"
    )


if __name__ == "__main__":
    main()
