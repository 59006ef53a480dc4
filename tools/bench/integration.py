"""Integration gateway: inbound acknowledgement of signed webhooks, and event → delivered to a healthy receiver.

`python -m tools.bench.integration [--webhooks 1000] [--events 2000] [--rate 200]` starts PostgreSQL,
nats-server and the integration gateway as its own process (`python -m integration_gateway`, as a pod runs it),
a lead-service stand-in (gRPC, in this process) and a webhook receiver on loopback. Phase 1 sends signed
webhooks (Standard Webhooks, a configured source) one after another over gRPC `ReceiveWebhook` and times each
answer: verification, the receipt committed, the lead captured, the outcome committed. Phase 2 subscribes the
receiver to `customer.*` and publishes `crm.customer.updated` events to JetStream at `--rate` per second (as
customer-master's relay does, 50 customers round-robin), and times each from its publish to its arrival at the
receiver. Prints figures only.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import grpc
import nats
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sqlalchemy import create_engine, text
from standardwebhooks import Webhook

from crm.events.v1 import customer_events_pb2
from crm.integration.v1 import integration_pb2, integration_pb2_grpc
from crm_common.bus.streams import ensure_streams
from crm_common.grpc_client import channel_as
from crm_common.identity import Role, user_principal
from crm_common.migrations import upgrade_to_head
from crm_common.settings import TransportSettings
from integration_gateway.app import DEFINITION
from tools.devstack.infra import NatsServer, PostgresServer, free_port
from tools.devstack.stack import REPO_ROOT

SECRET = "whsec_" + base64.b64encode(b"bench-partner-secret-32-bytes-ok").decode()


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
    raise SystemExit("the integration gateway did not become ready")


class Arrivals:
    """A receiver that answers 200 at once and notes when each webhook-id first arrived."""

    def __init__(self) -> None:
        self.at: dict[str, float] = {}
        self.count = 0
        self.expected = 0
        self.all_in = asyncio.Event()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                now = time.time()
                headers = dict(
                    (k.strip().lower(), v.strip())
                    for k, _, v in (ln.partition(":") for ln in head.decode("latin-1").split("\r\n")[1:] if ln)
                )
                await reader.readexactly(int(headers.get("content-length", "0")))
                self.count += 1
                self.at.setdefault(headers["webhook-id"], now)
                if self.expected and len(self.at) >= self.expected:
                    self.all_in.set()
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


async def inbound(stub: integration_pb2_grpc.IntegrationServiceStub, count: int) -> list[float]:
    await stub.PutSource(integration_pb2.PutSourceRequest(source="bench-partner", secret=SECRET), timeout=10)
    webhook = Webhook(SECRET)
    took = []
    for i in range(count + 50):
        body = json.dumps({"name": f"Bench {i}", "phone": f"139{i:08d}"}).encode()
        wid, now = f"msg_{uuid.uuid4().hex}", datetime.now(UTC)
        request = integration_pb2.ReceiveWebhookRequest(
            source="bench-partner", raw_body=body, webhook_id=wid, webhook_timestamp=str(int(now.timestamp())),
            webhook_signature=webhook.sign(wid, now, body),
        )
        started = time.perf_counter()
        reply = await stub.ReceiveWebhook(request, timeout=10)
        if i >= 50:  # the first 50 warm connections and caches
            took.append(time.perf_counter() - started)
        assert reply.receipt.status == "captured", reply.receipt
    return took


async def outbound(stub, js, arrivals: Arrivals, url: str, events: int, rate: float, queued: dict[str, float]) -> tuple[list[float], int, float]:  # type: ignore[no-untyped-def]
    await stub.CreateSubscription(integration_pb2.CreateSubscriptionRequest(url=url, events=["customer.*"]), timeout=10)
    customers = [str(uuid.uuid4()) for _ in range(50)]
    published: dict[str, float] = {}
    start = time.time() + 0.5
    for i in range(events):
        await asyncio.sleep(max(0.0, start + i / rate - time.time()))
        event_id = str(uuid.uuid4())
        message = customer_events_pb2.CustomerUpdated(customer_id=customers[i % len(customers)], field="name")
        published[event_id] = time.time()
        await js.publish("crm.customer.updated", message.SerializeToString(), headers={"Nats-Msg-Id": event_id})
    publish_seconds = time.time() - start
    arrivals.expected = events
    if len(arrivals.at) < events:
        try:
            await asyncio.wait_for(arrivals.all_in.wait(), 120)
        except TimeoutError:
            pass
    latencies = [arrivals.at[e] - t for e, t in published.items() if e in arrivals.at]
    queued.update(published)
    return latencies, arrivals.count - len(arrivals.at), publish_seconds


async def run(webhooks: int, events: int, rate: float, workdir: Path) -> None:
    from integration_gateway.tests.conftest import start_lead_stand_in

    pg, bus = PostgresServer(workdir / "pg"), NatsServer(workdir / "nats")
    pg.start()
    bus.start()
    upgrade_to_head(DEFINITION.migrations_dir, url=pg.url, schema=DEFINITION.schema)
    nc = await nats.connect(bus.url)
    js = nc.jetstream(timeout=10)
    await ensure_streams(js)
    lead_server, _ = await start_lead_stand_in()
    arrivals = Arrivals()
    receiver = await asyncio.start_server(arrivals.serve, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{receiver.sockets[0].getsockname()[1]}/hook"
    grpc_port = free_port()
    env = {
        **os.environ, "CRM_ENVIRONMENT": "development", "CRM_DATABASE_URL": pg.url, "CRM_NATS_URL": bus.url,
        "CRM_GRPC_PORT": str(grpc_port), "CRM_METRICS_PORT": str(free_port()), "CRM_LOG_LEVEL": "WARNING",
        "CRM_LEAD_ADDR": f"127.0.0.1:{lead_server.port}", "CRM_OUTBOUND_ALLOWED_NETWORKS": "127.0.0.0/8",
    }
    env.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
    with (workdir / "integration.log").open("wb") as log:
        service = subprocess.Popen(  # noqa: ASYNC220
            [sys.executable, "-m", "integration_gateway"], env=env, cwd=REPO_ROOT, stdout=log, stderr=log
        )
    try:
        await wait_serving(f"127.0.0.1:{grpc_port}")
        admin = user_principal(Role.ADMIN, subject="bench:integration")
        async with channel_as(f"127.0.0.1:{grpc_port}", admin, settings=TransportSettings(environment="development")) as ch:
            stub = integration_pb2_grpc.IntegrationServiceStub(ch)
            took = await inbound(stub, webhooks)
            print(f"inbound: {len(took)} signed webhooks, one at a time, acknowledged (captured) "
                  f"p50 {percentile(took, 0.5) * 1000:.1f} ms, p99 {percentile(took, 0.99) * 1000:.1f} ms, "
                  f"max {max(took) * 1000:.1f} ms")
            published: dict[str, float] = {}
            latencies, repeats, spent = await outbound(stub, js, arrivals, url, events, rate, published)
            print(f"outbound: {events} events published at {events / spent:.0f}/s; delivered {len(latencies)}, "
                  f"repeats {repeats}; publish -> received p50 {percentile(latencies, 0.5) * 1000:.1f} ms, "
                  f"p99 {percentile(latencies, 0.99) * 1000:.1f} ms, max {max(latencies) * 1000:.1f} ms")
            engine = create_engine(pg.url)
            with engine.connect() as conn:
                rows = conn.execute(text(
                    "SELECT event_id, extract(epoch from created_at), extract(epoch from delivered_at)"
                    " FROM integration_gateway.deliveries"
                )).all()
            engine.dispose()
            queue = [float(c) - published[e] for e, c, _ in rows if e in published]
            send = [float(dv) - float(c) for e, c, dv in rows if e in published and dv is not None]
            print(f"  of which publish -> delivery queued p50 {percentile(queue, 0.5) * 1000:.1f} ms, "
                  f"p99 {percentile(queue, 0.99) * 1000:.1f} ms; queued -> recorded delivered "
                  f"p50 {percentile(send, 0.5) * 1000:.1f} ms, p99 {percentile(send, 0.99) * 1000:.1f} ms")
    finally:
        service.terminate()
        service.wait(10)
        receiver.close()
        await lead_server.stop(0)
        await nc.close()
        bus.stop()
        pg.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--webhooks", type=int, default=1000)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=200.0)
    args = parser.parse_args()
    os.environ.setdefault("CRM_ENVIRONMENT", "development")
    with tempfile.TemporaryDirectory(prefix="bench-integration-") as workdir:
        asyncio.run(run(args.webhooks, args.events, args.rate, Path(workdir)))


if __name__ == "__main__":
    main()
