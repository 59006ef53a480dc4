"""CPU per captured lead of the REST edge alone: `POST /v1/leads` through `python -m gateway` to a fake lead service.

    .venv/bin/python -m tools.bench.edge_capture [--requests 5000] [--concurrency 32] [--rounds 3]
    .venv/bin/python -m tools.bench.edge_capture --rate 150 --requests 1500     # open loop at a fixed rate
    .venv/bin/python -m tools.bench.edge_capture --export-spans                # spans exported over OTLP
    .venv/bin/python -m tools.bench.edge_capture --gateway-root /tmp/old      # another copy of gateway/

Three processes: a grpc.aio server answering `crm.lead.v1.LeadService/CaptureLead` with a reply shaped as the lead
service builds it (the submitted lead echoed with its phone in E.164, assigned, a resolved customer, a three-step
timeline, score parts and deadlines, the trace id taken from the incoming traceparent), the edge as the chart runs
it (`python -m gateway`: uvicorn, uvloop, httptools, tracing and metrics on; log level WARNING and no OTLP exporter
unless asked, as in tools.bench.lead_throughput), and the lean load generator of tools.bench.loadgen in a process of
its own, posting tools.bench.bare_chain's form bodies on `--concurrency` keep-alive connections: back to back
(closed loop), or at `--rate` requests/s (open loop; the whole stack runs the edge far below its own limit, where
a request costs it more CPU than under a saturating closed loop).

Per round it prints the edge's CPU ms per answered request (user+system of the process, from /proc, also net of
its idle rate), requests/s, latency p50/p99, the fake's and the load generator's own CPU, then the median of the
rounds. CPU is counted per process, but on a shared machine other load still moves it (caches, preemption):
compare versions in alternating runs (`--gateway-root`). Before the rounds, one request with a known traceparent
shows whether the edge still hands its trace to the lead service; with `--export-spans` the spans exported per
request and that request's trace are printed too. Figures only: nothing passes or fails.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import logging
import os
import secrets
import signal
import statistics
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tools.devstack.otlp import OtlpReceiver
from tools.devstack.procs import ChildProcess, free_port, log_tail, stop_all
from tools.devstack.stack import REPO_ROOT

from .bare_chain import lead_form_body
from .loadgen import Load, LoadGenerator, PhaseResult, Target, tree_cpu_seconds

LEAD_SERVICE = "crm.lead.v1.LeadService"
PATH = "/v1/leads"
WARMUP_SECONDS = 5.0
IDLE_SECONDS = 3.0
READY_TIMEOUT = 30.0
SPANS_SETTLE_SECONDS = 7.0
TEAM_ID = "3b0f6c52-8a6e-4d2c-9a31-52f1c1d2a001"
REP_IDS = tuple(f"7d0c4a8e-1f2b-4c3d-8e4f-00000000000{i}" for i in range(1, 4))


# ---- the fake lead service -----------------------------------------------------------------------


def _stamp(at: datetime) -> Any:
    from google.protobuf.timestamp_pb2 import Timestamp

    stamp = Timestamp()
    stamp.FromDatetime(at)
    return stamp


def _e164(phone: str) -> str:
    """`+86 13900000001` -> `+8613900000001` (the lead service stores and answers E.164)."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    return f"+{digits}" if digits else ""


def captured_reply(request: Any, traceparent: str, seq: int) -> Any:
    """A CaptureLeadResponse shaped as services/lead/handlers.py lead_message builds it for a routed new lead."""
    from crm.lead.v1 import lead_pb2

    submitted = request.lead
    captured_at = datetime.now(UTC)
    assigned_at = captured_at + timedelta(milliseconds=3)
    customer_id = str(uuid.uuid4())
    assignee_id = REP_IDS[seq % len(REP_IDS)]
    parts = traceparent.split("-")
    trace_id = parts[1] if len(parts) == 4 else ""
    lead_input = lead_pb2.LeadInput()
    lead_input.CopyFrom(submitted)
    lead_input.phone = _e164(submitted.phone)
    if not (submitted.province and submitted.city):
        lead_input.province, lead_input.city = "浙江", "杭州"  # inferred from the mobile number's prefix
    channel = submitted.source.channel or "web_form"
    lead = lead_pb2.Lead(
        id=str(uuid.uuid4()),
        input=lead_input,
        status=lead_pb2.LEAD_STATUS_ASSIGNED,
        customer_id=customer_id,
        assignee_id=assignee_id,
        trace_id=trace_id,
        captured_at=_stamp(captured_at),
        assigned_at=_stamp(assigned_at),
        timeline=[
            lead_pb2.TimelineEntry(step="captured", at=_stamp(captured_at), detail=channel),
            lead_pb2.TimelineEntry(step="customer_resolved", at=_stamp(captured_at), detail=customer_id),
            lead_pb2.TimelineEntry(step="assigned", at=_stamp(assigned_at), detail=assignee_id),
        ],
        score=47,
        score_parts={"channel": 16.0, "completeness": 30.86, "product_interest": 0.0},
        location_inferred=not (submitted.province and submitted.city),
        claim_deadline_at=_stamp(assigned_at + timedelta(minutes=30)),
        first_contact_deadline_at=_stamp(captured_at + timedelta(hours=24)),
        team_id=TEAM_ID,
    )
    return lead_pb2.CaptureLeadResponse(lead=lead, created=True)


async def serve_fake_lead(port: int) -> None:
    """A bare grpc.aio server (no interceptors) with LeadService.CaptureLead and grpc.health.v1."""
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    from grpc_health.v1.health import aio as health_aio

    from crm.lead.v1 import lead_pb2_grpc

    class FakeLeadService(lead_pb2_grpc.LeadServiceServicer):
        def __init__(self) -> None:
            self.seq = 0

        async def CaptureLead(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
            self.seq += 1
            metadata = dict(context.invocation_metadata() or ())
            return captured_reply(request, str(metadata.get("traceparent", "")), self.seq)

    health = health_aio.HealthServicer()
    await health.set(LEAD_SERVICE, health_pb2.HealthCheckResponse.SERVING)
    server = grpc.aio.server()
    lead_pb2_grpc.add_LeadServiceServicer_to_server(FakeLeadService(), server)
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopped.set)
    await stopped.wait()
    await server.stop(1.0)


# ---- the edge and its fake peer as processes ------------------------------------------------------


class EdgeUnderTest:
    """The fake lead service and `python -m gateway` pointed at it; logs under workdir."""

    def __init__(
        self, workdir: Path, log_level: str, gateway_root: Path = REPO_ROOT, otlp_endpoint: str | None = None
    ) -> None:
        self.workdir = workdir
        self.log_level = log_level
        self.otlp_endpoint = otlp_endpoint
        self.lead_port = free_port()
        self.http_port = free_port()
        self.metrics_port = free_port()
        self.api_key = secrets.token_urlsafe(32)
        self.lead = ChildProcess(
            "fake-lead",
            [sys.executable, "-m", "tools.bench.edge_capture", "fake-lead", str(self.lead_port)],
            log_path=workdir / "fake-lead.log",
            cwd=REPO_ROOT,
        )
        self.edge = ChildProcess(
            "gateway", [sys.executable, "-m", "gateway"], log_path=workdir / "gateway.log", env=self._env(), cwd=gateway_root
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CRM_", "OTEL_EXPORTER_OTLP"))}
        keys = [{"key_sha256": hashlib.sha256(self.api_key.encode()).hexdigest(), "role": "system", "name": "bench"}]
        address = f"127.0.0.1:{self.lead_port}"
        env.update(
            {
                "PYTHONUNBUFFERED": "1",
                "CRM_ENVIRONMENT": "development",
                "CRM_LOG_LEVEL": self.log_level,
                "CRM_HTTP_PORT": str(self.http_port),
                "CRM_METRICS_PORT": str(self.metrics_port),
                "CRM_API_KEYS": json.dumps(keys),
                "OTEL_SERVICE_NAME": "gateway",
            }
        )
        if self.otlp_endpoint:
            env["OTEL_EXPORTER_OTLP_ENDPOINT"] = self.otlp_endpoint
            env["OTEL_EXPORTER_OTLP_PROTOCOL"] = "grpc"
        # Every peer on the fake's address: channels connect lazily and only the lead service is called.
        for name in ("LEAD", "CUSTOMER_MASTER", "PIPELINE", "NOTIFICATION", "INTEGRATION_GATEWAY", "REPORTING"):
            env[f"CRM_{name}_ADDR"] = address
        return env

    def start(self) -> None:
        self.lead.start()
        self.edge.start()
        deadline = time.monotonic() + READY_TIMEOUT
        while not _ready(f"{self.url}/readyz"):
            for proc in (self.lead, self.edge):
                if not proc.running:
                    raise RuntimeError(f"{proc.name} exited ({proc.returncode}):\n{log_tail(proc.log_path)}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the edge was not ready within {READY_TIMEOUT:.0f} s:\n{log_tail(self.edge.log_path)}")
            time.sleep(0.1)

    def stop(self) -> None:
        stop_all([(self.edge, signal.SIGTERM), (self.lead, signal.SIGTERM)], 10.0)

    def target(self) -> Target:
        return Target.at(self.url, PATH, lead_form_body, bearer=self.api_key)

    def cpu_seconds(self) -> tuple[float, float]:
        """User+system CPU seconds so far of (the edge, the fake lead service)."""
        return tree_cpu_seconds(self.edge.pid), tree_cpu_seconds(self.lead.pid)

    def trace_reaches_the_lead_service(self, trace_id: str) -> str:
        """Capture one lead under a known traceparent: does the lead service see that trace?"""
        request = urllib.request.Request(
            f"{self.url}{PATH}",
            data=lead_form_body(999_999_999),
            headers={
                "Authorization": f"Bearer {self.api_key}",
                "Content-Type": "application/json",
                "traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01",
            },
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as resp:
                answer = json.loads(resp.read())
        except (OSError, ValueError) as err:
            return f"probe failed ({err})"
        return "yes" if answer.get("trace_id") == trace_id else f"no (lead service saw trace {answer.get('trace_id')!r})"


def span_lines(receiver: OtlpReceiver, answered: int, probe_trace_id: str) -> list[str]:
    """What the edge exported: spans per answered request by kind and name, and the probe's trace."""
    settled, count = time.monotonic(), -1
    # The batch processor exports every few seconds: wait until nothing more arrives for a while.
    while time.monotonic() - settled < SPANS_SETTLE_SECONDS:
        time.sleep(0.5)
        if len(receiver.spans()) != count:
            count, settled = len(receiver.spans()), time.monotonic()
    spans = receiver.spans()
    kinds = Counter((s.kind, s.name) for s in spans)
    lines = [f"  spans exported: {len(spans) / answered:.2f} per answered request ({len(spans)} for {answered})"]
    lines.extend(f"    {n / answered:5.2f}  {kind:<8} {name}" for (kind, name), n in kinds.most_common(8))
    probe = sorted(receiver.trace(probe_trace_id), key=lambda s: s.start_ns)
    ids = {s.span_id: s for s in probe}
    shape = ", ".join(
        f"{s.kind} {s.name}" + (f" (child of {ids[s.parent_span_id].kind})" if s.parent_span_id in ids else "")
        for s in probe
    )
    lines.append(f"  the probe's trace: {shape or 'no span received'}")
    return lines


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as resp:
            return resp.status == 200
    except (OSError, urllib.error.URLError):
        return False


# ---- measuring -------------------------------------------------------------------------------------


@dataclass
class Round:
    """One measured round: what the load generator saw and the CPU seconds the edge and the fake used."""

    phase: PhaseResult
    wall_seconds: float
    edge_cpu: float
    lead_cpu: float
    edge_idle_rate: float

    @property
    def answered(self) -> int:
        return self.phase.ok

    def edge_ms(self) -> float:
        return 1000 * self.edge_cpu / self.answered if self.answered else float("nan")

    def edge_net_ms(self) -> float:
        busy = max(self.edge_cpu - self.edge_idle_rate * self.wall_seconds, 0.0)
        return 1000 * busy / self.answered if self.answered else float("nan")

    def lead_ms(self) -> float:
        return 1000 * self.lead_cpu / self.answered if self.answered else float("nan")

    def loadgen_ms(self) -> float:
        return 1000 * self.phase.loadgen_cpu_seconds / self.answered if self.answered else float("nan")


def run_round(edge: EdgeUnderTest, loadgen: LoadGenerator, load: Load, idle_rate: float) -> Round:
    edge0, lead0 = edge.cpu_seconds()
    wall0 = time.perf_counter()
    phase = loadgen.run(edge.target(), load)
    wall = time.perf_counter() - wall0
    edge1, lead1 = edge.cpu_seconds()
    return Round(phase, wall, edge1 - edge0, lead1 - lead0, idle_rate)


def _errors(phase: PhaseResult) -> str:
    if not phase.errors:
        return "none"
    parts = [f"{n}x {kind}" for kind, n in sorted(phase.errors.items())]
    samples = [f"{kind}: {text[:160]}" for kind, text in sorted(phase.error_samples.items())]
    return ", ".join(parts) + " (" + "; ".join(samples) + ")"


def round_line(number: int, r: Round) -> str:
    p = r.phase
    return (
        f"  round {number}: {r.answered} answered, {p.responses_per_second:6.0f} req/s, "
        f"p50/p99 {p.http.p50_ms or 0:5.1f} / {p.http.p99_ms or 0:5.1f} ms | "
        f"edge CPU {r.edge_ms():.3f} ms/req (net of idle {r.edge_net_ms():.3f}) | "
        f"fake lead {r.lead_ms():.3f} ms/req | loadgen {r.loadgen_ms():.3f} ms/req, "
        f"{p.loadgen_cpu_percent:.0f}% of a core | errors: {_errors(p)}"
    )


def summary_lines(rounds: list[Round]) -> list[str]:
    def median(values: list[float]) -> float:
        return statistics.median(values) if values else float("nan")

    edge_ms = [r.edge_ms() for r in rounds]
    return [
        f"  median of {len(rounds)} rounds:",
        f"    edge CPU per request      {median(edge_ms):.3f} ms (min {min(edge_ms):.3f}, max {max(edge_ms):.3f}); "
        f"net of idle {median([r.edge_net_ms() for r in rounds]):.3f} ms",
        f"    requests/s                {median([r.phase.responses_per_second for r in rounds]):.0f}",
        f"    latency p50 / p99         {median([r.phase.http.p50_ms or 0 for r in rounds]):.1f} / "
        f"{median([r.phase.http.p99_ms or 0 for r in rounds]):.1f} ms",
        f"    loadgen CPU               {median([r.loadgen_ms() for r in rounds]):.3f} ms/req, "
        f"{median([r.phase.loadgen_cpu_percent for r in rounds]):.0f}% of a core",
        f"    fake lead service CPU     {median([r.lead_ms() for r in rounds]):.3f} ms/req",
    ]


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    receiver = OtlpReceiver().start() if args.export_spans else None
    try:
        with tempfile.TemporaryDirectory(prefix="crm-bench-edge-") as tmp:
            workdir = (args.workdir or Path(tmp)).resolve()
            edge = EdgeUnderTest(
                workdir, args.log_level, args.gateway_root.resolve(), receiver.endpoint if receiver else None
            )
            edge.start()
            try:
                lines = _measure(edge, args, receiver)
            finally:
                edge.stop()
    finally:
        if receiver is not None:
            receiver.stop()
    print("\n".join(lines))
    return 0


def _measure(edge: EdgeUnderTest, args: argparse.Namespace, receiver: OtlpReceiver | None) -> list[str]:
    probe_trace_id = secrets.token_hex(16)
    lines = [
        f"edge capture benchmark: {os.cpu_count()} cores; POST {PATH} through python -m gateway in {args.gateway_root} "
        f"(log level {args.log_level}, spans {'exported over OTLP' if receiver else 'recorded, not exported'}) "
        f"to a fake lead service; {args.rounds} rounds of ~{args.requests} requests, "
        + (f"open loop at {args.rate:.0f}/s" if args.rate else "closed loop")
        + f" on {args.concurrency} connections",
        f"  trace handed to the lead service: {edge.trace_reaches_the_lead_service(probe_trace_id)}",
    ]
    with LoadGenerator() as loadgen:
        warmup = loadgen.run(edge.target(), Load("closed", args.warmup, args.concurrency, first_seq=0))
        if warmup.ok == 0:
            raise SystemExit(f"no request answered 2xx during the warm-up: {_errors(warmup)}")
        lines.append(f"  warm-up: {warmup.ok} answered in {args.warmup:.0f} s ({warmup.responses_per_second:.0f}/s)")
        idle0, _ = edge.cpu_seconds()
        time.sleep(IDLE_SECONDS)
        idle_rate = (edge.cpu_seconds()[0] - idle0) / IDLE_SECONDS
        lines.append(f"  edge idle: {1000 * idle_rate:.1f} ms CPU per second")
        rate = warmup.responses_per_second
        rounds: list[Round] = []
        for number in range(1, args.rounds + 1):
            first_seq = number * 10_000_000
            if args.rate:
                load = Load("open", args.requests / args.rate, args.concurrency, args.rate, first_seq)
            else:
                # A closed loop runs for a time, not a count: the time that carries ~--requests at the last rate.
                load = Load("closed", max(args.requests / rate, 1.0), args.concurrency, first_seq=first_seq)
            result = run_round(edge, loadgen, load, idle_rate)
            rounds.append(result)
            lines.append(round_line(number, result))
            rate = result.phase.responses_per_second or rate
    lines.extend(summary_lines(rounds))
    if receiver is not None:
        answered = 1 + warmup.ok + sum(r.answered for r in rounds)
        lines.extend(span_lines(receiver, answered, probe_trace_id))
    return lines


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tools.bench.edge_capture", description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=5000, help="requests per round (about)")
    parser.add_argument("--concurrency", type=int, default=32, help="keep-alive HTTP connections")
    parser.add_argument(
        "--rate", type=float, default=0.0, help="requests/s of an open loop instead of the closed loop (latency then "
        "counts from the intended send time)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="measured rounds (the median is printed)")
    parser.add_argument("--warmup", type=float, default=WARMUP_SECONDS, help="warm-up seconds")
    parser.add_argument("--log-level", default="WARNING", help="CRM_LOG_LEVEL of the edge")
    parser.add_argument(
        "--gateway-root", type=Path, default=REPO_ROOT,
        help="directory holding the gateway package to run (default: this checkout; a copy of another version compares)",
    )
    parser.add_argument(
        "--export-spans", action="store_true",
        help="export the edge's spans over OTLP to a receiver in this process, as in production (default: recorded only)",
    )
    parser.add_argument("--workdir", type=Path, default=None, help="keep the processes' logs here")
    return parser.parse_args(argv)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "fake-lead":
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(serve_fake_lead(int(sys.argv[2])))
    else:
        sys.exit(main())
