"""CPU the event bus and its consumers spend per lead, measured apart from the lead's own capture work.

`python -m tools.bench.bus_chain [--rate 100] [--duration 20] [--concurrency 16] [--phases open,closed]
[--workdir DIR]` (`--phases` also takes `lockstep`)

On a PostgreSQL and NATS of its own, a stand-in for the lead service's capture transaction stages,
per lead and in one transaction, the three events a capture writes (captured, customer_resolved,
assigned) into the `lead` outbox, inside a trace. The real `reporting` and `notification` services
run as processes; a `lead-bus` process runs what the lead service runs of the bus: the outbox relay
and the `lead-notification-delivered` consumer (its handler one INSERT, like the lead's timeline row).
A lead's chain ends when its crm.notification.delivered is published. After each phase the benchmark
waits until every durable consumer has nothing pending, so the CPU seconds counted are all the work
of those leads. It prints figures only: CPU ms per lead per process (raw, and net of what each
process burns when idle), open-loop latency, and the rate the chain sustains when pushed. The optional
lockstep phase stages each lead only once the previous one was notified, so no consumer gets a batch
of more than one because the machine is busy: the per-lead cost of the bus's fixed machinery.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import nats
from nats.js.errors import NotFoundError
from opentelemetry.sdk.trace import TracerProvider
from sqlalchemy import create_engine, text

from tools.bench.bare_chain import start_infra
from tools.bench.loadgen import percentile, tree_cpu_seconds

REPO_ROOT = Path(__file__).resolve().parents[2]
DURABLES = {
    "CRM_LEAD": ["reporting-lead-captured", "reporting-lead-assigned", "notification-lead-assigned"],
    "CRM_NOTIFICATION": ["lead-notification-delivered"],
}
SERVICES = ("reporting", "notification")
REPS = [f"00000000-0000-4000-8000-{i:012d}" for i in range(10)]


# ---- the lead-bus process: the lead service's share of the bus -------------------------------------


async def _lead_bus(database_url: str, nats_url: str) -> None:
    """The lead's outbox relay and its consumer of crm.notification.delivered, until SIGTERM."""
    import signal

    from crm.events.v1 import notification_events_pb2
    from crm_common.bus.consumer import ConsumerSpec, DurableConsumer, EventMeta
    from crm_common.bus.outbox import OutboxRelay
    from crm_common.bus.tables import inbox_table, outbox_table
    from crm_common.db import Database, service_metadata
    from crm_common.telemetry import setup_telemetry

    setup_telemetry("lead-bus")
    metadata = service_metadata("lead")
    outbox, inbox = outbox_table(metadata), inbox_table(metadata)
    db = Database(database_url)
    nc = await nats.connect(nats_url)
    js = nc.jetstream(timeout=5)
    timeline = text("INSERT INTO lead.bench_timeline (lead_id, step, at) VALUES (:lead_id, 'notified', :at)")

    async def notified(conn, message: notification_events_pb2.NotificationDelivered, meta: EventMeta) -> None:  # type: ignore[no-untyped-def]
        await conn.execute(timeline, {"lead_id": message.lead_id, "at": meta.published_at})

    libpq = database_url.replace("postgresql+psycopg://", "postgresql://")
    relay = OutboxRelay(db=db, outbox=outbox, js=js, libpq_url=libpq)
    spec = ConsumerSpec("lead-notification-delivered", "crm.notification.delivered", notified)
    consumer = DurableConsumer(spec, db=db, inbox=inbox, js=js, max_deliver=5, on_committed=relay.wake)
    tasks = [asyncio.create_task(relay.run()), asyncio.create_task(consumer.run())]
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    relay.stop()
    consumer.stop()
    await asyncio.wait(tasks, timeout=3)
    await nc.close()
    await db.dispose()


# ---- the stager: the lead service's capture transactions -------------------------------------------


@dataclass
class Stager:
    """Stages each lead's three capture events in one transaction; stamps when each chain ends."""

    database_url: str
    nats_url: str
    sent: dict[str, float] = field(default_factory=dict)
    intended: dict[str, float] = field(default_factory=dict)
    assigned: dict[str, float] = field(default_factory=dict)
    delivered: dict[str, float] = field(default_factory=dict)
    waiting: dict[str, asyncio.Future[None]] = field(default_factory=dict)

    async def __aenter__(self) -> Stager:
        from crm_common.bus.tables import outbox_table
        from crm_common.db import Database, service_metadata

        self.db = Database(self.database_url)
        self.outbox = outbox_table(service_metadata("lead"))
        self.tracer = TracerProvider().get_tracer("bench")
        self.nc = await nats.connect(self.nats_url)
        await self.nc.subscribe("crm.lead.assigned", cb=self._on_assigned)
        await self.nc.subscribe("crm.notification.delivered", cb=self._on_delivered)
        self.js = self.nc.jetstream()
        # At most as many capture transactions at once as the pool holds; the rest queue (and show as latency).
        self.slots = asyncio.Semaphore(16)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.nc.close()
        await self.db.dispose()

    async def _on_assigned(self, msg) -> None:  # type: ignore[no-untyped-def]
        from crm.events.v1 import lead_events_pb2

        self.assigned.setdefault(lead_events_pb2.LeadAssigned.FromString(msg.data).lead_id, time.perf_counter())

    async def _on_delivered(self, msg) -> None:  # type: ignore[no-untyped-def]
        from crm.events.v1 import notification_events_pb2

        lead_id = notification_events_pb2.NotificationDelivered.FromString(msg.data).lead_id
        self.delivered.setdefault(lead_id, time.perf_counter())
        waiter = self.waiting.pop(lead_id, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def capture(self, seq: int, intended: float, lead_id: str | None = None) -> None:
        import uuid

        from google.protobuf.timestamp_pb2 import Timestamp

        from crm.events.v1 import lead_events_pb2
        from crm_common.bus.outbox import stage_event

        lead_id = lead_id or str(uuid.uuid4())
        self.intended[lead_id] = intended
        now = Timestamp()
        now.GetCurrentTime()
        rep = REPS[seq % len(REPS)]
        async with self.slots, self.db.transaction() as conn:
            with self.tracer.start_as_current_span("CaptureLead"):
                await stage_event(
                    conn, self.outbox, "crm.lead.captured",
                    lead_events_pb2.LeadCaptured(lead_id=lead_id, channel="web_form", captured_at=now),
                )
                await stage_event(
                    conn, self.outbox, "crm.lead.customer_resolved",
                    lead_events_pb2.LeadCustomerResolved(lead_id=lead_id, customer_id=rep, resolved_at=now),
                )
                await stage_event(
                    conn, self.outbox, "crm.lead.assigned",
                    lead_events_pb2.LeadAssigned(
                        lead_id=lead_id, assignee_id=rep, lead_name=f"Lead {seq}", company="Acme", channel="web_form",
                        captured_at=now, assigned_at=now,
                    ),
                )
        self.sent[lead_id] = time.perf_counter()

    async def pending(self) -> int:
        """Messages the durable consumers have not acked yet (unknown consumers count as pending)."""
        total = 0
        for stream, durables in DURABLES.items():
            for durable in durables:
                try:
                    info = await self.js.consumer_info(stream, durable)
                except NotFoundError:
                    total += 1
                    continue
                total += (info.num_pending or 0) + (info.num_ack_pending or 0)
        return total

    async def drained(self, leads: int, within: float = 120.0) -> float:
        """Wait until every lead was delivered and every consumer acked everything; returns when."""
        deadline = time.perf_counter() + within
        while time.perf_counter() < deadline:
            if len(self.delivered) >= leads and await self.pending() == 0:
                return time.perf_counter()
            await asyncio.sleep(0.05)
        raise TimeoutError(f"{leads - len(self.delivered)} leads not delivered, {await self.pending()} pending")


# ---- phases -----------------------------------------------------------------------------------------


class Cpu:
    """CPU seconds per process between two readings."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids

    def read(self) -> dict[str, float]:
        readings = {name: tree_cpu_seconds(pid) for name, pid in self.pids.items()}
        readings["bench (stager)"] = time.process_time()
        return readings


def _delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {name: after[name] - before[name] for name in before}


async def _open_loop(stager: Stager, rate: float, seconds: float) -> None:
    start = time.perf_counter()
    tasks = []
    for seq in range(int(rate * seconds)):
        intended = start + seq / rate
        delay = intended - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(stager.capture(seq, intended)))
    await asyncio.gather(*tasks)


async def _closed_loop(stager: Stager, concurrency: int, seconds: float) -> None:
    end = time.perf_counter() + seconds
    counter = iter(range(10**9))

    async def worker() -> None:
        while time.perf_counter() < end:
            await stager.capture(next(counter), time.perf_counter())

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def _lockstep(stager: Stager, seconds: float) -> None:
    """One lead at a time, each staged once the previous one was notified: batches of one, however busy the machine."""
    import uuid

    end = time.perf_counter() + seconds
    seq = 0
    while time.perf_counter() < end:
        lead_id = str(uuid.uuid4())
        ended = stager.waiting[lead_id] = asyncio.get_running_loop().create_future()
        await stager.capture(seq, time.perf_counter(), lead_id)
        await asyncio.wait_for(ended, 60)
        seq += 1


def _latency(ends: dict[str, float], starts: dict[str, float], ids: set[str]) -> str:
    values = sorted(1000 * (ends[i] - starts[i]) for i in ids if i in ends)
    if not values:
        return "-"
    return f"p50 {percentile(values, 50):.1f} ms, p99 {percentile(values, 99):.1f} ms"


def _cpu_lines(spent: dict[str, float], idle: dict[str, float], idle_seconds: float, wall: float, leads: int) -> list[str]:
    lines = [f"    {'process':<22}{'CPU s':>8}{'ms/lead':>10}{'ms/lead net of idle':>22}"]
    for name, seconds in spent.items():
        net = seconds - idle.get(name, 0.0) * wall / idle_seconds
        lines.append(f"    {name:<22}{seconds:8.2f}{1000 * seconds / leads:10.2f}{1000 * net / leads:22.2f}")
    bus = [n for n in spent if n != "bench (stager)"]
    total = sum(spent[n] for n in bus)
    lines.append(f"    {'bus and consumers':<22}{total:8.2f}{1000 * total / leads:10.2f}")
    return lines


async def _run(args: argparse.Namespace, pids: dict[str, int], database_url: str, nats_url: str) -> list[str]:
    cpu = Cpu(pids)
    lines: list[str] = []
    async with Stager(database_url, nats_url) as stager:
        # Warm-up: pools, prepared statements, caches, the consumers' subscriptions.
        await _open_loop(stager, 50, 2)
        await stager.drained(len(stager.sent))
        before = cpu.read()
        await asyncio.sleep(args.idle)
        idle = _delta(before, cpu.read())
        lines.append(f"idle for {args.idle:.0f} s: " + ", ".join(f"{n} {100 * s / args.idle:.1f}%" for n, s in idle.items()))

        seconds = f"for {args.duration:.0f} s"
        phases = {
            "open": (f"open loop {args.rate:.0f} leads/s {seconds}", lambda: _open_loop(stager, args.rate, args.duration)),
            "closed": (
                f"closed loop, {args.concurrency} stagers {seconds}",
                lambda: _closed_loop(stager, args.concurrency, args.duration),
            ),
            "lockstep": (f"lockstep, one lead at a time {seconds}", lambda: _lockstep(stager, args.duration)),
        }
        for name, load in (phases[phase] for phase in args.phases.split(",")):
            known = set(stager.sent)
            before, started = cpu.read(), time.perf_counter()
            await load()
            staged_at = time.perf_counter()
            ended = await stager.drained(len(stager.sent))
            spent = _delta(before, cpu.read())
            ids = set(stager.sent) - known
            wall = ended - started
            lines.append(
                f"{name}: {len(ids)} leads staged in {staged_at - started:.1f} s, all consumed after {wall:.1f} s "
                f"= {len(ids) / wall:.0f} leads/s through the chain"
            )
            lines.append(f"  stage→assigned published  {_latency(stager.assigned, stager.intended, ids)}")
            lines.append(f"  stage→notified published  {_latency(stager.delivered, stager.intended, ids)}")
            lines.extend(_cpu_lines(spent, idle, args.idle, wall, len(ids)))
    return lines


def _prepare(database_url: str) -> None:
    from crm_common.bus.tables import create_bus_tables
    from crm_common.migrations import upgrade_to_head
    from notification.app import DEFINITION as NOTIFICATION
    from reporting.app import DEFINITION as REPORTING

    for definition in (REPORTING, NOTIFICATION):
        upgrade_to_head(definition.migrations_dir, url=database_url, schema=definition.schema)
    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE SCHEMA IF NOT EXISTS lead"))
        create_bus_tables(conn, "lead")
        conn.execute(text("CREATE TABLE IF NOT EXISTS lead.bench_timeline (lead_id text, step text, at timestamptz)"))
    engine.dispose()


def _spawn(argv: list[str], name: str, database_url: str, nats_url: str, logs: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_EXPORTER_OTLP")}
    env.update(
        {
            "CRM_ENVIRONMENT": "development", "CRM_LOG_LEVEL": "WARNING", "CRM_DATABASE_URL": database_url,
            "CRM_NATS_URL": nats_url, "CRM_GRPC_PORT": "0", "CRM_METRICS_PORT": "0", "OTEL_SERVICE_NAME": name,
        }
    )
    # The child writes to it for its whole life; the parent's copy closes with the process.
    log = open(logs / f"{name}.log", "wb")
    return subprocess.Popen([sys.executable, *argv], env=env, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["lead-bus"]:
        import uvloop

        uvloop.install()
        asyncio.run(_lead_bus(argv[1], argv[2]))
        return 0
    parser = argparse.ArgumentParser(prog="python -m tools.bench.bus_chain", description=__doc__)
    parser.add_argument("--rate", type=float, default=100.0, help="open-loop leads/s")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of each loop")
    parser.add_argument("--concurrency", type=int, default=16, help="closed-loop concurrent capture transactions")
    parser.add_argument("--phases", default="open,closed", help="phases to run, in order: open, closed, lockstep")
    parser.add_argument("--idle", type=float, default=5.0, help="seconds of the idle measurement")
    parser.add_argument("--workdir", type=Path, default=None, help="keep data and logs here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="crm-bench-bus-") as tmp:
        workdir = (args.workdir or Path(tmp)).resolve()
        logs = workdir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        postgres, nats_server = start_infra(workdir)
        procs: dict[str, subprocess.Popen[bytes]] = {}
        try:
            _prepare(postgres.url)
            for service in SERVICES:
                procs[service] = _spawn(["-m", service], service, postgres.url, nats_server.url, logs)
            procs["lead-bus"] = _spawn(
                ["-m", "tools.bench.bus_chain", "lead-bus", postgres.url, nats_server.url], "lead-bus",
                postgres.url, nats_server.url, logs,
            )
            pids = {name: proc.pid for name, proc in procs.items()}
            pids |= {"postgres": postgres.pid or 0, "nats": nats_server.pid or 0}
            lines = asyncio.run(_run(args, pids, postgres.url, nats_server.url))
        finally:
            for proc in procs.values():
                proc.terminate()
            for proc in procs.values():
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(10)
            nats_server.stop()
            postgres.stop()
    print(f"bus chain benchmark: {os.cpu_count()} cores, python {sys.version.split()[0]}")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
