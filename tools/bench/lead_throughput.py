"""Leads per second from `POST /v1/leads` to notification delivered, against a bare chain of the same hops.

`python -m tools.bench.lead_throughput [--json [PATH]]` first measures the bare chain (tools.bench.bare_chain)
on a PostgreSQL and NATS of its own, stops it, then starts the whole stack (tools.devstack.Stack) and runs the
same plan through it: a warm-up, an open loop at a fixed rate for latency (capture→assigned and
capture→notified, from the intended send time), and a closed loop for sustained throughput. It prints figures
only: the load generator's own CPU and every process's CPU seconds next to them, no pass or fail.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import platform
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tools.devstack import Stack, StackError
from tools.devstack.infra import InfraError
from tools.devstack.stack import REPO_ROOT

from . import bare_chain
from .bare_chain import lead_form_body
from .loadgen import (
    CpuWindow,
    EventTap,
    Latency,
    LoadGenerator,
    NothingCompleted,
    PhaseResult,
    Plan,
    PlanResult,
    Target,
    run_plan,
)

DEFAULT_JSON = REPO_ROOT / ".dev" / "bench" / "lead_throughput.json"
ASSIGNED_SUBJECT = "crm.lead.assigned"
DELIVERED_SUBJECT = "crm.notification.delivered"
TARGET_LEADS_PER_SECOND = 350
TARGET_P99_MS = 50
_PROBLEM = re.compile(r'(?i)"level":\s*"(error|critical)"|\bERROR\b|\bCRITICAL\b|Traceback')


def assigned_lead_id(data: bytes) -> str:
    """lead_id of a crm.lead.assigned payload."""
    from crm.events.v1 import lead_events_pb2

    return lead_events_pb2.LeadAssigned.FromString(data).lead_id


def delivered_lead_id(data: bytes) -> str:
    """lead_id of a crm.notification.delivered payload."""
    from crm.events.v1 import notification_events_pb2

    return notification_events_pb2.NotificationDelivered.FromString(data).lead_id


# ---- plan and report, shared with bare_chain -------------------------------------------------------


def plan_arguments(parser: argparse.ArgumentParser) -> None:
    """The options that shape a plan."""
    defaults = Plan()
    parser.add_argument("--warmup", type=float, default=defaults.warmup_seconds, help="warm-up seconds")
    parser.add_argument("--warmup-rate", type=float, default=defaults.warmup_rate, help="warm-up requests/s")
    parser.add_argument("--rate", type=float, default=defaults.rate, help="open-loop requests/s")
    parser.add_argument("--duration", type=float, default=defaults.open_seconds, help="seconds of each loop")
    parser.add_argument("--connections", type=int, default=defaults.connections, help="HTTP connections")
    parser.add_argument("--grace", type=float, default=defaults.grace, help="longest wait for chains to end")


def plan_from(args: argparse.Namespace) -> Plan:
    return Plan(
        warmup_seconds=args.warmup,
        warmup_rate=args.warmup_rate,
        rate=args.rate,
        open_seconds=args.duration,
        closed_seconds=args.duration,
        connections=args.connections,
        grace=args.grace,
    )


def _ms(latency: Latency | None) -> str:
    if latency is None or latency.count == 0:
        return "-"
    return f"{latency.p50_ms:.1f} / {latency.p99_ms:.1f} ms"


def _phase_line(phase: PhaseResult) -> str:
    errors = ", ".join(f"{n}x {kind}" for kind, n in sorted(phase.errors.items())) or "none"
    return (
        f"{phase.sent} sent, {phase.ok} 2xx ({phase.responses_per_second:.0f}/s), errors: {errors}; "
        f"{phase.completed} chains ended, lost {phase.lost}; loadgen CPU {phase.loadgen_cpu_percent:.0f}% "
        f"of a core ({phase.loadgen_cpu_seconds:.1f} s), send lag p99 {phase.send_lag.p99_ms or 0:.1f} ms"
    )


def plan_lines(name: str, result: PlanResult, plan: Plan, events: dict[str, str]) -> list[str]:
    """The figures of one system: closed-loop throughput, open-loop latency, each phase, CPU per process."""
    lines = [f"{name}:"]
    closed, opened = result.closed, result.open
    if closed is not None:
        lines.append(
            f"  closed loop, {plan.connections} conns, {plan.closed_seconds:.0f} s: "
            f"{closed.chains_per_second:.0f} chains/s end to end (2xx {closed.responses_per_second:.0f}/s)"
        )
    if opened is not None:
        lines.append(f"  open loop {plan.rate:.0f}/s, {plan.open_seconds:.0f} s, from intended send time:")
        lines.append(f"    HTTP response       p50/p99 {_ms(opened.http)}")
        for label, title in events.items():
            lines.append(f"    {title:<19} p50/p99 {_ms(opened.events.get(label))}")
    for phase_name, phase in (("warm-up", result.warmup), ("open", opened), ("closed", closed)):
        if phase is not None:
            lines.append(f"  {phase_name:<8} {_phase_line(phase)}")
            lines.extend(f"           sample of {kind}: {text}" for kind, text in sorted(phase.error_samples.items()))
    if result.cpu_open and result.cpu_closed and opened and closed:
        windows = [(result.cpu_open, opened), (result.cpu_closed, closed)]
        lines.append(f"  CPU seconds (% of one core)            {'open loop':<18}closed loop")

        def row(title: str, cells: list[tuple[float, float]]) -> str:
            text = "".join(f"{f'{sec:6.1f} s {pct:4.0f}%':<18}" for sec, pct in cells)
            return f"    {title:<35}{text}".rstrip()

        def share(window: CpuWindow, seconds: float) -> tuple[float, float]:
            return seconds, 100 * seconds / window.wall_seconds if window.wall_seconds else 0.0

        for proc in result.cpu_closed.seconds:
            lines.append(row(proc, [share(w, w.seconds.get(proc, 0.0)) for w, _ in windows]))
        lines.append(
            row("loadgen (during the load)", [(p.loadgen_cpu_seconds, p.loadgen_cpu_percent) for _, p in windows])
        )
        lines.append(row("system under test, total", [share(w, sum(w.seconds.values())) for w, _ in windows]))
        lines.append(row("other processes on this machine", [share(w, w.outside_seconds) for w, _ in windows]))
        if result.cpu_idle is not None and closed.completed:
            lines.extend(_per_chain_lines(result.cpu_idle, result.cpu_closed, closed.completed))
        for loop_name, (window, _) in zip(("open", "closed"), windows, strict=True):
            lines.append(
                f"    machine during the {loop_name} loop: {window.machine_busy_seconds:.1f} s busy of "
                f"{window.wall_seconds * window.cores:.1f} s ({window.cores} cores x {window.wall_seconds:.1f} s wall), "
                f"{window.outside_seconds:.1f} s of it outside this benchmark"
            )
    return lines


def _per_chain_lines(idle: CpuWindow, closed: CpuWindow, chains: int) -> list[str]:
    """CPU ms per chain in the closed loop, as measured and net of each process's idle rate.

    The net figure is what a lead costs: a process's polls and probes burn the same per second whatever the
    load, so at a low throughput (a busy machine) they would otherwise inflate the cost per lead.
    """
    lines = [
        f"  CPU ms per chain, closed loop ({chains} chains): gross / net of the idle rate ({idle.wall_seconds:.0f} s idle)"
    ]
    total_gross = total_net = 0.0
    for proc, seconds in closed.seconds.items():
        idle_rate = idle.seconds.get(proc, 0.0) / idle.wall_seconds if idle.wall_seconds else 0.0
        gross = 1000 * seconds / chains
        net = 1000 * max(seconds - idle_rate * closed.wall_seconds, 0.0) / chains
        total_gross, total_net = total_gross + gross, total_net + net
        lines.append(f"    {proc:<35}{gross:6.1f} / {net:5.1f}")
    lines.append(f"    {'system under test, total':<35}{total_gross:6.1f} / {total_net:5.1f}")
    return lines


def print_plan(name: str, result: PlanResult, plan: Plan) -> None:
    print("\n".join(plan_lines(name, result, plan, {"done": "capture→consumed"})))


# ---- the run ---------------------------------------------------------------------------------------


def _stack_problems(stack: Stack, per_log: int = 6) -> list[str]:
    """The last error lines of every service log (what a reader needs when chains did not end)."""
    lines = []
    for log in sorted(stack.logs_dir.glob("*.log")):
        try:
            text = log.read_text(errors="replace").splitlines()
        except OSError:
            continue
        problems = [line for line in text if _PROBLEM.search(line)]
        if problems:
            lines.append(f"  {log} ({len(problems)} error lines), last:")
            lines.extend(f"    {line[:400]}" for line in problems[-per_log:])
    return lines


def _measure_bare(loadgen: LoadGenerator, workdir: Path, plan: Plan) -> tuple[PlanResult | None, str]:
    try:
        postgres, nats = bare_chain.start_infra(workdir)
    except InfraError as err:
        return None, f"bare chain infrastructure failed: {err}"
    try:
        return bare_chain.measure(loadgen, workdir, postgres, nats, plan), ""
    except (NothingCompleted, RuntimeError) as err:
        return None, f"bare chain failed: {err}"
    finally:
        nats.stop()
        postgres.stop()


def _measure_stack(
    loadgen: LoadGenerator, workdir: Path, plan: Plan
) -> tuple[PlanResult | None, str, list[str], float]:
    """The plan through the real stack; (result, failure, log problems, start-up seconds)."""
    stack = Stack(workdir, env_overrides={"CRM_LOG_LEVEL": "WARNING"}, log_level="WARNING")
    started = time.monotonic()
    try:
        info = stack.start()
    except (StackError, InfraError) as err:
        problems = _stack_problems(stack) if stack.logs_dir.exists() else []
        return None, f"the stack did not start: {err}", problems, time.monotonic() - started
    startup = time.monotonic() - started
    try:
        target = Target.at(info["gateway_url"], "/v1/leads", lead_form_body, bearer=info["api_key"])
        tap = EventTap(
            info["nats_url"],
            (("assigned", ASSIGNED_SUBJECT, assigned_lead_id), ("notified", DELIVERED_SUBJECT, delivered_lead_id)),
            final="notified",
        )
        pids = {name: stack.pid(name) for name in [*stack.specs, "postgres", "nats"]}
        try:
            result = run_plan(loadgen, target, tap, plan, pids)
        except NothingCompleted as err:
            return None, f"no lead was notified during the warm-up: {err}", _stack_problems(stack), startup
        return result, "", _stack_problems(stack), startup
    finally:
        stack.stop()


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tools.bench.lead_throughput", description=__doc__)
    plan_arguments(parser)
    parser.add_argument(
        "--json", nargs="?", const=DEFAULT_JSON, type=Path, default=None, help=f"write figures (default {DEFAULT_JSON})"
    )
    parser.add_argument("--workdir", type=Path, default=None, help="keep data and logs here (default: a temp dir)")
    parser.add_argument("--skip-bare", action="store_true", help="measure only the CRM stack")
    parser.add_argument("--skip-stack", action="store_true", help="measure only the bare chain")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    plan = plan_from(args)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="crm-bench-") as tmp:
        workdir = (args.workdir or Path(tmp)).resolve()
        bare: PlanResult | None = None
        ours: PlanResult | None = None
        bare_failure = stack_failure = ""
        problems: list[str] = []
        startup = 0.0
        with LoadGenerator() as loadgen:
            if not args.skip_bare:
                bare, bare_failure = _measure_bare(loadgen, workdir / "bare", plan)
            if not args.skip_stack:
                ours, stack_failure, problems, startup = _measure_stack(loadgen, workdir / "stack", plan)
        lines = _report(plan, bare, ours, bare_failure, stack_failure, problems, startup, time.monotonic() - began)
        print("\n".join(lines))
        if args.json is not None:
            _write_json(args.json, plan, bare, ours, bare_failure, stack_failure, startup)
            print(f"figures written to {args.json}")
    return 0 if not (bare_failure or stack_failure) else 1


def _report(
    plan: Plan,
    bare: PlanResult | None,
    ours: PlanResult | None,
    bare_failure: str,
    stack_failure: str,
    problems: list[str],
    startup: float,
    total: float,
) -> list[str]:
    lines = [
        "",
        f"lead throughput benchmark: {os.cpu_count()} cores, python {platform.python_version()}; "
        f"warm-up {plan.warmup_seconds:.0f} s at {plan.warmup_rate:.0f}/s, open loop {plan.rate:.0f}/s for "
        f"{plan.open_seconds:.0f} s, closed loop {plan.connections} conns for {plan.closed_seconds:.0f} s",
        "",
    ]
    if bare is not None and bare.closed and bare.open:
        lines.append(
            f"bare chain: {bare.closed.chains_per_second:.0f} chains/s (closed loop, {plan.connections} conns), "
            f"p50/p99 at {plan.rate:.0f}/s: {_ms(bare.open.events.get('done'))}; "
            f"loadgen CPU {bare.closed.loadgen_cpu_percent:.0f}% closed / {bare.open.loadgen_cpu_percent:.0f}% open"
        )
    else:
        lines.append(f"bare chain: not measured. {bare_failure}")
    if ours is not None and ours.closed and ours.open:
        lost = ours.open.lost + ours.closed.lost
        lines.append(
            f"CRM stack: {ours.closed.chains_per_second:.0f} leads/s captured→notified "
            f"(target ≥ {TARGET_LEADS_PER_SECOND}); at {plan.rate:.0f} leads/s: capture→assigned p50/p99 "
            f"{_ms(ours.open.events.get('assigned'))}, capture→notified p50/p99 {_ms(ours.open.events.get('notified'))} "
            f"(target p99 < {TARGET_P99_MS} ms); lost: {lost} (open {ours.open.lost}, closed {ours.closed.lost}); "
            f"loadgen CPU {ours.closed.loadgen_cpu_percent:.0f}% closed / {ours.open.loadgen_cpu_percent:.0f}% open"
        )
    else:
        lines.append(f"CRM stack: not measured. {stack_failure}")
    if bare is not None and ours is not None and bare.closed and ours.closed and bare.closed.chains_per_second:
        ratio = ours.closed.chains_per_second / bare.closed.chains_per_second
        lines.append(f"ratio: ours/bare = {ratio:.2f} (closed-loop chains/s; target ≥ 0.33)")
    lines.append("")
    if bare is not None:
        lines.extend(
            plan_lines(
                "bare chain (HTTP → gRPC → INSERT → JetStream → consumer)", bare, plan, {"done": "capture→consumed"}
            )
        )
        lines.append("")
    if ours is not None:
        lines.extend(
            plan_lines(
                f"CRM stack (started in {startup:.0f} s)",
                ours,
                plan,
                {"assigned": "capture→assigned", "notified": "capture→notified"},
            )
        )
        lines.append("")
    if problems:
        lines.append("error lines in the stack's logs:")
        lines.extend(problems)
        lines.append("")
    lines.append(f"total run time {total:.0f} s")
    return lines


def _write_json(
    path: Path,
    plan: Plan,
    bare: PlanResult | None,
    ours: PlanResult | None,
    bare_failure: str,
    stack_failure: str,
    startup: float,
) -> None:
    def figures(result: PlanResult | None) -> dict[str, Any] | None:
        return dataclasses.asdict(result) if result is not None else None

    ratio = None
    if bare and ours and bare.closed and ours.closed and bare.closed.chains_per_second:
        ratio = ours.closed.chains_per_second / bare.closed.chains_per_second
    doc = {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "plan": dataclasses.asdict(plan),
        "bare_chain": figures(bare),
        "crm_stack": figures(ours),
        "ratio_ours_to_bare": ratio,
        "stack_startup_seconds": startup,
        "failures": {"bare_chain": bare_failure or None, "crm_stack": stack_failure or None},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    sys.exit(main())
