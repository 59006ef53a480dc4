"""The local stack runner: real PostgreSQL and NATS, the OTLP receiver, process supervision, the whole stack."""

from __future__ import annotations

import hashlib
import json
import signal
import sys
import textwrap
import time
from collections.abc import Iterable
from pathlib import Path

import grpc
import httpx
import nats
import psutil
import psycopg
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from nats.js.api import StorageType
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind

from tools.devstack import (
    GATEWAY,
    SERVICES,
    ChildProcess,
    NatsServer,
    OtlpReceiver,
    PostgresServer,
    ServiceSpec,
    Stack,
    StackError,
)
from tools.devstack.procs import stop_all
from tools.devstack.seed import REPS, TEAM_NAME

FAKE_MODULE = "devstack_fake_service"
# A stand-in for every service, speaking the runtime contract: `migrate`, gRPC health (plus the
# LeadService calls the seed makes), the gateway's /readyz and CRM_API_KEYS. It forks a grandchild,
# so a stop that forgets process groups leaves something behind.
FAKE_SOURCE = """
import hashlib, json, os, signal, subprocess, sys, uuid
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc, psycopg
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from crm.lead.v1 import lead_pb2, lead_pb2_grpc

NAME = os.environ["OTEL_SERVICE_NAME"]
if sys.argv[1:] == ["migrate"]:
    url = os.environ["CRM_DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute('CREATE SCHEMA IF NOT EXISTS "%s"' % NAME.replace("-", "_"))
    sys.exit(0)
if NAME in os.environ.get("FAKE_CRASH", "").split(","):
    print("fake crash: settings are broken", flush=True)
    sys.exit(3)
if NAME in os.environ.get("FAKE_STUBBORN", "").split(","):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
else:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])


class Lead(lead_pb2_grpc.LeadServiceServicer):
    teams, reps, rules = [], [], []

    def CreateTeam(self, request, context):
        self.teams.append(lead_pb2.Team(id=str(uuid.uuid4()), name=request.name))
        return lead_pb2.CreateTeamResponse(team=self.teams[-1])

    def ListTeams(self, request, context):
        return lead_pb2.ListTeamsResponse(teams=self.teams)

    def UpdateTeam(self, request, context):
        team = next(t for t in self.teams if t.id == request.team_id)
        team.manager_id = request.manager_id
        return lead_pb2.UpdateTeamResponse(team=team)

    def CreateRep(self, request, context):
        rep = lead_pb2.Rep(id=str(uuid.uuid4()), name=request.name, team_id=request.team_id,
                           email=request.email, active=True)
        self.reps.append(rep)
        return lead_pb2.CreateRepResponse(rep=rep)

    def ListReps(self, request, context):
        return lead_pb2.ListRepsResponse(reps=[r for r in self.reps if r.team_id == request.team_id])

    def UpdateRep(self, request, context):
        rep = next(r for r in self.reps if r.id == request.rep_id)
        rep.capacity = request.capacity
        return lead_pb2.UpdateRepResponse(rep=rep)

    def PutRoutingRule(self, request, context):
        rule = lead_pb2.RoutingRule()
        rule.CopyFrom(request.rule)
        rule.id = rule.id or str(uuid.uuid4())
        self.rules[:] = [r for r in self.rules if r.id != rule.id] + [rule]
        return lead_pb2.PutRoutingRuleResponse(rule=rule)

    def ListRoutingRules(self, request, context):
        return lead_pb2.ListRoutingRulesResponse(rules=self.rules)


if NAME == "gateway":
    keys = {entry["key_sha256"]: entry for entry in json.loads(os.environ["CRM_API_KEYS"])}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/readyz":
                body = {"ready": any(e["role"] == "admin" for e in keys.values())}
            else:
                key = self.headers.get("Authorization", "").removeprefix("Bearer ")
                body = keys.get(hashlib.sha256(key.encode()).hexdigest(), {})
            self.send_response(200 if body else 401)
            self.end_headers()
            self.wfile.write(json.dumps(body).encode())

    ThreadingHTTPServer(("127.0.0.1", int(os.environ["CRM_HTTP_PORT"])), Handler).serve_forever()
else:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    health_servicer = health.HealthServicer()
    health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    if NAME == "lead":
        lead_pb2_grpc.add_LeadServiceServicer_to_server(Lead(), server)
    server.add_insecure_port("127.0.0.1:" + os.environ["CRM_GRPC_PORT"])
    server.start()
    server.wait_for_termination()
"""


def _descendants(*, besides: frozenset[int] = frozenset()) -> list[psutil.Process]:
    """This process's children, but for those already running (another module's session stack, say)."""
    return [p for p in psutil.Process().children(recursive=True) if p.pid not in besides]


def _running_pids() -> frozenset[int]:
    return frozenset(p.pid for p in psutil.Process().children(recursive=True))


def _still_alive(processes: Iterable[psutil.Process]) -> list[str]:
    """Those of processes that still run (is_running compares start times, so a reused pid does not count)."""
    alive = []
    for proc in processes:
        try:
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                alive.append(f"{proc.pid} {' '.join(proc.cmdline())[:120]}")
        except psutil.NoSuchProcess:
            continue
    return alive


def _wait_for_text(path: Path, text: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not (path.exists() and text in path.read_text(errors="replace")):
        assert time.monotonic() < deadline, f"{text!r} not in {path} after {timeout} s"
        time.sleep(0.05)


def _fake_stack(tmp_path: Path, **env: str) -> Stack:
    """A Stack whose every service is the stand-in module (real PostgreSQL and NATS)."""
    module_dir = tmp_path / "fake"
    module_dir.mkdir()
    (module_dir / f"{FAKE_MODULE}.py").write_text(textwrap.dedent(FAKE_SOURCE))
    services = [ServiceSpec(spec.name, FAKE_MODULE, spec.schema) for spec in SERVICES]
    gateway = ServiceSpec(GATEWAY.name, FAKE_MODULE, None, http=True)
    overrides = {"PYTHONPATH": str(module_dir), **env}
    return Stack(tmp_path / "stack", env_overrides=overrides, services=services, gateway=gateway, ready_timeout=20)


def _serving(addr: str) -> bool:
    with grpc.insecure_channel(addr) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    return reply.status == health_pb2.HealthCheckResponse.SERVING


def test_postgres_starts_accepts_connections_and_keeps_data_across_restart(tmp_path: Path) -> None:
    server = PostgresServer(tmp_path / "pg")
    try:
        server.start()
        assert server.url == f"postgresql+psycopg://postgres@127.0.0.1:{server.port}/crm"
        with psycopg.connect(server.libpq_url, autocommit=True) as conn:
            assert conn.execute("SHOW max_connections").fetchone() == ("300",)
            assert conn.execute("SHOW fsync").fetchone() == ("off",)
            conn.execute("CREATE TABLE kept (id int PRIMARY KEY, name text)")
            conn.execute("INSERT INTO kept VALUES (1, '王芳')")
        first_pid, port = server.pid, server.port

        server.restart()

        assert server.port == port and server.pid != first_pid
        with psycopg.connect(server.libpq_url) as conn:
            assert conn.execute("SELECT id, name FROM kept").fetchall() == [(1, "王芳")]
    finally:
        server.stop()
    assert not server.running


async def test_nats_jetstream_publish_consume_and_file_stream_survives_restart(tmp_path: Path) -> None:
    server = NatsServer(tmp_path / "nats")
    try:
        server.start()
        nc = await nats.connect(server.url)
        js = nc.jetstream()
        await js.add_stream(name="DEVSTACK", subjects=["devstack.>"], storage=StorageType.FILE)
        ack = await js.publish("devstack.test", b"before restart", headers={"Nats-Msg-Id": "evt-1"})
        assert ack.stream == "DEVSTACK" and ack.seq == 1
        duplicate = await js.publish("devstack.test", b"before restart", headers={"Nats-Msg-Id": "evt-1"})
        assert duplicate.duplicate
        await nc.close()
        port = server.port

        server.restart()

        assert server.port == port
        nc = await nats.connect(server.url)
        try:
            sub = await nc.jetstream().pull_subscribe("devstack.>", durable="devstack-test")
            messages = await sub.fetch(1, timeout=5)
            assert [m.data for m in messages] == [b"before restart"]
            await messages[0].ack()
        finally:
            await nc.close()
    finally:
        server.stop()
    assert not server.running


def test_otlp_receiver_keeps_exported_spans() -> None:
    with OtlpReceiver() as receiver:
        provider = TracerProvider(resource=Resource.create({"service.name": "lead"}))
        provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=receiver.endpoint, insecure=True)))
        tracer = provider.get_tracer("devstack-test")
        with tracer.start_as_current_span("CaptureLead", kind=SpanKind.SERVER) as parent:
            with tracer.start_as_current_span("publish crm.lead.captured", kind=SpanKind.PRODUCER) as child:
                child.set_attribute("crm.lead.source", "web_form")
                child.set_attribute("crm.lead.score", 42)
        provider.shutdown()

        span = receiver.wait_for_span(lambda s: s.name == "publish crm.lead.captured", timeout=10)
        root = receiver.wait_for_span(lambda s: s.name == "CaptureLead", timeout=10)

    assert span.trace_id == root.trace_id == format(parent.get_span_context().trace_id, "032x")
    assert span.parent_span_id == root.span_id and root.parent_span_id == ""
    assert (span.kind, root.kind) == ("PRODUCER", "SERVER")
    assert span.service == "lead"
    assert span.attributes == {"crm.lead.source": "web_form", "crm.lead.score": 42}
    with pytest.raises(TimeoutError):
        receiver.wait_for(lambda spans: len(spans) > 2, timeout=0.2)


def test_stop_kills_stragglers_and_their_children(tmp_path: Path) -> None:
    stubborn = ChildProcess(
        "stubborn",
        [
            sys.executable,
            "-c",
            "import signal, subprocess, sys, time\n"
            "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
            "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)'])\n"
            "print('ready', flush=True)\n"
            "time.sleep(300)\n",
        ],
        log_path=tmp_path / "stubborn.log",
    )
    polite = ChildProcess("polite", [sys.executable, "-c", "import time; time.sleep(300)"], log_path=tmp_path / "p.log")
    before = _running_pids()
    stubborn.start()
    polite.start()
    _wait_for_text(tmp_path / "stubborn.log", "ready")
    spawned = _descendants(besides=before)
    assert len(spawned) == 3

    killed = stop_all([(stubborn, signal.SIGTERM), (polite, signal.SIGTERM)], timeout=1.0)

    assert killed == ["stubborn"]
    assert polite.returncode == -signal.SIGTERM and stubborn.returncode == -signal.SIGKILL
    assert _still_alive(spawned) == []


def test_stack_runs_supervises_and_stops_every_process(tmp_path: Path) -> None:
    stack = _fake_stack(tmp_path, FAKE_STUBBORN="reporting")
    before = _running_pids()
    spawned: list[psutil.Process] = []
    try:
        info = stack.start()

        assert json.loads(stack.stack_json.read_text()) == info
        assert [r["name"] for r in info["reps"]] == [name for name, _ in REPS]
        assert info["team"]["name"] == TEAM_NAME
        assert set(info["rep_keys"]) == {r["id"] for r in info["reps"]}
        assert set(info["services"]) == {spec.name for spec in SERVICES} | {"gateway"}
        assert info["services"]["lead"]["grpc"].startswith("127.0.0.1:")
        assert info["services"]["gateway"]["metrics"].endswith("/metrics")
        rep = info["reps"][0]
        whoami = httpx.get(
            f"{info['gateway_url']}/whoami", headers={"Authorization": f"Bearer {info['rep_keys'][rep['id']]}"}
        )
        assert whoami.json() == {
            "key_sha256": hashlib.sha256(info["rep_keys"][rep["id"]].encode()).hexdigest(),
            "role": "sales_rep",
            "rep_id": rep["id"],
            "name": rep["name"],
        }
        admin = httpx.get(f"{info['gateway_url']}/whoami", headers={"Authorization": f"Bearer {info['api_key']}"})
        assert admin.json()["role"] == "admin"
        # One identity key, generated for this stack, in every process: their tokens verify at each other.
        keys = {psutil.Process(stack.pid(name)).environ().get("CRM_IDENTITY_KEY") for name in info["services"]}
        assert keys == {info["identity_key"]} and len(info["identity_key"]) >= 32
        with psycopg.connect(info["postgres_url"]) as conn:
            schemas = {row[0] for row in conn.execute("SELECT schema_name FROM information_schema.schemata")}
        assert {spec.schema for spec in SERVICES} <= schemas

        old_pid = stack.pid("notification")
        stack.kill("notification")
        assert not stack.running("notification")
        assert stack.status()["notification"] == -signal.SIGKILL
        stack.start_service("notification")
        assert stack.pid("notification") != old_pid
        assert _serving(info["services"]["notification"]["grpc"])
        with pytest.raises(StackError, match="already running"):
            stack.start_service("notification")

        for server in ("nats", "postgres"):
            stack.kill(server)
            assert not stack.running(server)
            stack.start_service(server)
        with psycopg.connect(info["postgres_url"]) as conn:
            assert conn.execute("SELECT count(*) FROM information_schema.schemata").fetchone()[0] == len(schemas)
        spawned = _descendants(besides=before)
    finally:
        stack.stop(timeout=2.0)

    # One service per name, its forked child, postgres with its backends, nats.
    assert len(spawned) >= 2 * 7 + 2
    assert _still_alive(spawned) == []
    assert all(code is not None for code in stack.status().values())


def test_stack_start_failure_names_the_service_shows_its_log_and_cleans_up(tmp_path: Path) -> None:
    stack = _fake_stack(tmp_path, FAKE_CRASH="pipeline")
    before = _running_pids()

    with pytest.raises(StackError) as failure:
        stack.start()

    assert "pipeline exited with code 3" in str(failure.value)
    assert "fake crash: settings are broken" in str(failure.value)
    assert _descendants(besides=before) == []
    assert not stack.running("postgres") and not stack.running("nats")


@pytest.mark.journey
def test_stack_starts_and_stops(tmp_path: Path) -> None:
    stack = Stack(tmp_path / "stack", env_overrides={"OTEL_BSP_SCHEDULE_DELAY": "200"})
    before = _running_pids()
    spawned: list[psutil.Process] = []
    try:
        info = stack.start()
        assert httpx.get(f"{info['gateway_url']}/readyz", timeout=5).status_code == 200
        for spec in SERVICES:
            assert _serving(info["services"][spec.name]["grpc"]), spec.name
            assert httpx.get(info["services"][spec.name]["metrics"], timeout=5).status_code == 200
        assert len(info["reps"]) == 3 and len(info["rep_keys"]) == 3
        spawned = _descendants(besides=before)
    finally:
        stack.stop()
    assert len(spawned) >= 9
    assert _still_alive(spawned) == []
