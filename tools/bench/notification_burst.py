"""A burst of assignment events through the notification service to a mix of channels, one token expiring midway.

`python -m tools.bench.notification_burst [--events 1000] [--seconds 60]` starts PostgreSQL, nats-server, the
provider stand-ins (WeCom, DingTalk-style robot limits, SMS, webhook, a real SMTP server; the ones the tests
use) and the notification service as its own process (`python -m notification`, as a pod runs it). It
configures channels and recipients through the gRPC API, publishes the events to `crm.lead.assigned` on an
even schedule over the window, makes WeCom reject every issued token halfway through (errcode 42001), and
waits until every notification has a final status. It prints figures only: delivered, duplicates and lost
as the recipients saw them (provider receipts and in-app inboxes), p50/p99 from the event's scheduled
publish time to its receipt, token fetches, digests, and the CPU seconds of each process, the load
generator's included.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path

import grpc
import nats
import psutil
from google.protobuf.timestamp_pb2 import Timestamp
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sqlalchemy import create_engine, text

from crm.events.v1 import lead_events_pb2
from crm.notification.v1 import notification_pb2, notification_pb2_grpc
from crm_common.bus.streams import ensure_streams
from crm_common.grpc_client import channel_as
from crm_common.identity import Role, user_principal
from crm_common.migrations import upgrade_to_head
from crm_common.settings import TransportSettings
from notification.app import DEFINITION
from notification.tests import providers as stand_ins
from notification.tests.kit import SECRETS
from tools.devstack.infra import NatsServer, PostgresServer, free_port
from tools.devstack.stack import REPO_ROOT

MARK = re.compile(r"BENCH-\d{5}")
FINAL = ("delivered", "sent", "failed", "escalated")
# Recipient mix: profiles per fallback chain, and a share of assignees with no profile (in-app only).
MIX = [("wecom", ["wecom", "sms", "email"], 20), ("sms", ["sms", "email"], 10), ("email", ["email"], 8),
       ("webhook", ["webhook"], 7), ("robot", ["robot"], 5)]
UNKNOWN_SHARE = 0.1


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))] if ordered else float("nan")


async def wait_serving(address: str) -> None:
    deadline = time.monotonic() + 60.0
    async with grpc.aio.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            try:
                reply = await stub.Check(health_pb2.HealthCheckRequest(service=DEFINITION.grpc_services[0]), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.aio.AioRpcError:
                pass
            await asyncio.sleep(0.2)
    raise SystemExit("the notification service did not become ready")


async def configure(stub: notification_pb2_grpc.NotificationServiceStub, providers: stand_ins.Providers) -> list[str]:
    """Channels on the stand-ins and the recipients; returns the assignee ids to cycle through."""
    base = providers.base_url
    channels = [
        notification_pb2.Channel(name="wecom", kind="wecom_app", settings={"base_url": base, "corp_id": stand_ins.CORP_ID, "agent_id": "1"},
                                 secret_refs={"corp_secret": "env:TEST_WECOM_CORP_SECRET"}, enabled=True),
        notification_pb2.Channel(name="sms", kind="sms", settings={"base_url": base}, secret_refs={"api_key": "env:TEST_SMS_API_KEY"}, enabled=True),
        notification_pb2.Channel(name="email", kind="smtp", settings={"host": "127.0.0.1", "port": str(providers.smtp_port), "sender": "crm@example.com"}, enabled=True),
        notification_pb2.Channel(name="webhook", kind="webhook", settings={"url": f"{base}/hook"},
                                 secret_refs={"signing_secret": "env:TEST_WEBHOOK_SECRET"}, enabled=True),
        notification_pb2.Channel(name="robot", kind="wecom_robot", settings={"base_url": base},
                                 secret_refs={"key": "env:TEST_WECOM_ROBOT_KEY"}, enabled=True),
    ]
    for channel in channels:
        await stub.PutChannel(notification_pb2.PutChannelRequest(channel=channel), timeout=10)
    assignees: list[str] = []
    for label, chain, count in MIX:
        for i in range(count):
            rid = str(uuid.uuid4())
            recipient = notification_pb2.Recipient(
                id=rid, name=f"{label}-{i}", wecom_user_id=f"{label}{i}", mobile=f"+86139{i:08d}",
                email=f"{label}{i}@example.com", fallback_chain=chain, time_zone="UTC",
            )
            await stub.PutRecipient(notification_pb2.PutRecipientRequest(recipient=recipient), timeout=10)
            assignees.append(rid)
    unknown = round(len(assignees) * UNKNOWN_SHARE / (1 - UNKNOWN_SHARE))
    assignees += [str(uuid.uuid4()) for _ in range(unknown)]
    return assignees


def cpu_seconds(pid: int | None, *, children: bool = False) -> float:
    if pid is None:
        return 0.0
    try:
        process = psutil.Process(pid)
        processes = [process, *(process.children(recursive=True) if children else [])]
        return sum(p.cpu_times().user + p.cpu_times().system for p in processes)
    except psutil.Error:
        return 0.0


async def run(events: int, seconds: float, workdir: Path) -> None:
    pg, bus = PostgresServer(workdir / "pg"), NatsServer(workdir / "nats")
    pg.start()
    bus.start()
    upgrade_to_head(DEFINITION.migrations_dir, url=pg.url, schema=DEFINITION.schema)
    nc = await nats.connect(bus.url)
    js = nc.jetstream(timeout=10)
    await ensure_streams(js)
    grpc_port = free_port()
    env = {
        **os.environ, **SECRETS, "CRM_ENVIRONMENT": "development", "CRM_DATABASE_URL": pg.url, "CRM_NATS_URL": bus.url,
        "CRM_GRPC_PORT": str(grpc_port), "CRM_METRICS_PORT": str(free_port()), "CRM_LOG_LEVEL": "WARNING",
    }
    env.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
    log_path = workdir / "notification.log"
    mono_to_wall = time.time() - time.monotonic()
    async with stand_ins.running_providers() as providers:
        with log_path.open("wb") as log:
            # The service under test runs as its own process, the way a pod runs it.
            service = subprocess.Popen(  # noqa: ASYNC220
                [sys.executable, "-m", "notification"], env=env, cwd=REPO_ROOT, stdout=log, stderr=log
            )
        try:
            await wait_serving(f"127.0.0.1:{grpc_port}")
            admin = user_principal(Role.ADMIN, subject="bench:notification-burst")
            dev = TransportSettings(environment="development")  # the service runs with the development key
            async with channel_as(f"127.0.0.1:{grpc_port}", admin, settings=dev) as channel:
                assignees = await configure(notification_pb2_grpc.NotificationServiceStub(channel), providers)
            bench_cpu0, service_cpu0 = cpu_seconds(os.getpid()), cpu_seconds(service.pid)
            pg_cpu0, nats_cpu0 = cpu_seconds(pg.pid, children=True), cpu_seconds(bus.pid)
            scheduled: dict[str, float] = {}
            interval = seconds / events
            start = time.time() + 1.0
            expired_at = None
            late = 0.0
            for i in range(events):
                due = start + i * interval
                if expired_at is None and i >= events // 2:
                    providers.state.expire_tokens()
                    expired_at = time.time() - start
                await asyncio.sleep(max(0.0, due - time.time()))
                late = max(late, time.time() - due)
                mark = f"BENCH-{i:05d}"
                now = Timestamp()
                now.FromDatetime(datetime.now(UTC))
                event = lead_events_pb2.LeadAssigned(
                    lead_id=str(uuid.uuid4()), assignee_id=assignees[i % len(assignees)], team_id="bench",
                    lead_name=mark, company="Bench", channel="web_form", assigned_at=now, captured_at=now,
                )
                await js.publish("crm.lead.assigned", event.SerializeToString(), headers={"Nats-Msg-Id": str(uuid.uuid4())})
                scheduled[mark] = due
            published_in = time.time() - start
            engine = create_engine(pg.url)
            deadline = time.time() + 300
            statuses: Counter[str] = Counter()
            while time.time() < deadline:
                with engine.connect() as conn:
                    statuses = Counter(dict(conn.execute(text("SELECT status, count(*) FROM notification.notifications GROUP BY status")).all()))
                if sum(statuses[s] for s in FINAL) >= events and sum(statuses.values()) >= events:
                    break
                await asyncio.sleep(0.5)
            settled_in = time.time() - start
            bench_cpu = cpu_seconds(os.getpid()) - bench_cpu0
            service_cpu = cpu_seconds(service.pid) - service_cpu0
            pg_cpu, nats_cpu = cpu_seconds(pg.pid, children=True) - pg_cpu0, cpu_seconds(bus.pid) - nats_cpu0

            # What each recipient actually received, per channel, by lead mark.
            receipts: dict[str, list[tuple[str, float]]] = defaultdict(list)
            digests = 0
            for r in providers.state.received:
                marks = set(MARK.findall(r.content))
                digests += len(marks) > 1
                for mark in marks:
                    receipts[mark].append((r.provider, r.at + mono_to_wall))
            for (_to, subject, _), at in zip(providers.mail.messages, providers.mail.accepted_at, strict=True):
                for mark in set(MARK.findall(subject)):
                    receipts[mark].append(("email", at + mono_to_wall))
            with engine.connect() as conn:
                rows = conn.execute(text(
                    "SELECT n.title, n.delivered_at FROM notification.notifications n "
                    "JOIN notification.inbox_messages m ON m.notification_id = n.id WHERE n.channel = 'in_app'"
                )).all()
                for title, delivered_at in rows:
                    for mark in set(MARK.findall(title)):
                        receipts[mark].append(("in_app", delivered_at.timestamp()))
                by_channel = conn.execute(text(
                    "SELECT channel, status, count(*) FROM notification.notifications GROUP BY channel, status ORDER BY 1, 2"
                )).all()
            engine.dispose()
        finally:
            service.terminate()
            try:
                service.wait(15)
            except subprocess.TimeoutExpired:
                service.kill()
    await nc.close()
    bus.stop()
    pg.stop()

    duplicates = sum(max(0, n - 1) for mark in scheduled for n in Counter(p for p, _ in receipts.get(mark, [])).values())
    lost = [m for m in scheduled if not receipts.get(m)]
    latencies: dict[str, list[float]] = defaultdict(list)
    for mark, due in scheduled.items():
        got = receipts.get(mark, [])
        if got:
            provider, at = min(got, key=lambda r: r[1])
            latencies[provider].append(at - due)
    everything = [v for values in latencies.values() for v in values]
    print(f"events published        {events} in {published_in:.1f} s (schedule {seconds:.0f} s; worst lateness {late * 1000:.0f} ms)")
    print(f"WeCom tokens revoked    at {expired_at:.1f} s (event {events // 2}); gettoken calls {providers.state.gettoken_calls}")
    print(f"settled                 all notifications final {settled_in:.1f} s after the first event")
    print(f"statuses                {dict(statuses)}")
    print("by channel              " + ", ".join(f"{c}/{s}={n}" for c, s, n in by_channel))
    print(f"received by recipients  {sum(1 for m in scheduled if receipts.get(m))} of {events}")
    print(f"duplicates              {duplicates}")
    print(f"lost                    {len(lost)}{' ' + ', '.join(lost[:5]) if lost else ''}")
    print(f"digests (robot limit)   {digests}; provider dedupe dropped {providers.state.calls['sms'] - len(providers.state.of('sms'))} SMS resends")
    print(f"event→received p50/p99  {percentile(everything, 0.5) * 1000:.0f} ms / {percentile(everything, 0.99) * 1000:.0f} ms "
          f"(n={len(everything)})")
    for provider, values in sorted(latencies.items()):
        print(f"  {provider:<20}  p50 {percentile(values, 0.5) * 1000:.0f} ms  p99 {percentile(values, 0.99) * 1000:.0f} ms  n={len(values)}")
    print(f"CPU seconds             notification {service_cpu:.1f}, postgres {pg_cpu:.1f}, nats {nats_cpu:.1f}, "
          f"load generator + provider stand-ins {bench_cpu:.1f} (over {settled_in:.0f} s, {psutil.cpu_count()} cores)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    if args.workdir:
        # A fresh run directory each time: a reused database would mix runs.
        run_dir = args.workdir / f"run-{int(time.time())}"
        run_dir.mkdir(parents=True)
        asyncio.run(run(args.events, args.seconds, run_dir))
        return
    with tempfile.TemporaryDirectory(prefix="crm-notification-bench-") as tmp:
        asyncio.run(run(args.events, args.seconds, Path(tmp)))


if __name__ == "__main__":
    main()
