"""Routing decisions per second with 50 rules and 500 reps, and p99 capture→assigned at a sustained 100 leads/s.

`python -m tools.bench.routing` first times the routing engine alone (lead.routing.decide: rule match,
eligibility of every rep of the target team and its overflow team, calendars, strategy) in this process, then
starts the whole stack (tools.devstack.Stack), loads the same 50 rules and 500 reps into the lead service
through gRPC, and runs an open loop at 100 leads/s through `POST /v1/leads`, stamping capture→assigned from
`crm.lead.assigned` (tools.bench.loadgen, in a process of its own, its CPU printed). Figures only, no pass/fail.
`--skip-stack` runs the first part alone (a few seconds).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from datetime import time as clock
from pathlib import Path

import httpx

from crm.lead.v1 import lead_pb2, lead_pb2_grpc
from lead.routing.engine import STRATEGIES, Calendar, RepState, Rule, TeamState, decide, validate_rule_set
from tools.devstack import Stack, StackError
from tools.devstack.infra import InfraError

from .lead_throughput import ASSIGNED_SUBJECT, assigned_lead_id, plan_lines
from .loadgen import EventTap, LoadGenerator, NothingCompleted, Plan, Target, run_plan

PROVINCES = [
    "浙江",
    "江苏",
    "上海",
    "北京",
    "广东",
    "四川",
    "湖北",
    "湖南",
    "山东",
    "河南",
    "福建",
    "安徽",
    "江西",
    "河北",
    "陕西",
    "重庆",
    "天津",
    "辽宁",
    "吉林",
    "黑龙江",
    "云南",
    "贵州",
    "广西",
    "山西",
    "内蒙古",
    "新疆",
    "甘肃",
    "宁夏",
    "青海",
    "海南",
]
CHANNELS = ["web_form", "wechat_miniprogram", "wecom", "exhibition_qr", "whitepaper", "phone_in", "api"]
INDUSTRIES = ["manufacturing", "retail", "finance", "education", "healthcare", "logistics", "energy", "saas"]
TEAMS, REPS_PER_TEAM, RULES = 25, 20, 50
TARGET_P99_MS = 1.0
TARGET_ASSIGNED_P99_MS = 30.0


def world(seed: int = 7) -> tuple[list[Rule], dict[str, TeamState], dict[str, list[RepState]]]:
    """50 rules (49 specific, 1 catch-all) over 25 teams of 20 reps, some on leave, busy or inactive."""
    rng = random.Random(seed)
    open_all_week = Calendar(
        timezone="Asia/Shanghai", workdays=frozenset(range(1, 8)), start=clock(0, 0), end=clock(23, 59)
    )
    teams = {
        f"team-{t:02d}": TeamState(f"team-{t:02d}", calendar=open_all_week if t % 2 else None) for t in range(TEAMS)
    }
    reps = {
        team_id: [
            RepState(
                id=f"{team_id}-rep-{r:02d}",
                team_id=team_id,
                active=rng.random() > 0.05,
                on_leave=rng.random() < 0.05,
                capacity=50,
                open_leads=rng.randint(0, 55),
                weight=rng.choice((1, 1, 1, 2)),
                skills=frozenset(rng.sample(INDUSTRIES, 2)),
                served=rng.randint(0, 100),
            )
            for r in range(REPS_PER_TEAM)
        ]
        for team_id in teams
    }
    rules = []
    for i in range(RULES - 1):
        # A second lap over the provinces pairs them differently, so no rule is shadowed by an earlier one.
        conditions = {"province": frozenset({PROVINCES[i % 30], PROVINCES[(i + 7 + i // 30) % 30]})}
        if i % 3 == 0:
            conditions["channel"] = frozenset(rng.sample(CHANNELS, 3))
        if i % 4 == 0:
            conditions["industry"] = frozenset(rng.sample(INDUSTRIES, 3))
        strategy = STRATEGIES[i % 3]
        rules.append(
            Rule(
                id=f"rule-{i}",
                name=f"rule-{i}",
                priority=10 + i,
                conditions=conditions,
                team_id=f"team-{i % TEAMS:02d}",
                strategy=strategy,
                overflow_team_id=f"team-{(i + 1) % TEAMS:02d}" if i % 2 else None,
                min_score=rng.choice((0, 0, 30)),
                required_skills=frozenset(rng.sample(INDUSTRIES, 1)) if strategy == "skills_match" else frozenset(),
            )
        )
    rules.append(Rule(id="rest", name="rest", priority=1000, conditions={}, team_id="team-00"))
    return rules, teams, reps


def routed_form_body(seq: int) -> bytes:
    """A web-form lead (unique mobile) whose province, channel and industry cycle, so the 50 rules all get work."""
    return json.dumps(
        {
            "name": f"Bench Lead {seq}",
            "phone": f"+86 139{seq:08d}",
            "company": f"Bench Company {seq}",
            "province": PROVINCES[seq % len(PROVINCES)],
            "industry": INDUSTRIES[seq % len(INDUSTRIES)],
            "source": {"channel": CHANNELS[seq % len(CHANNELS)]},
        }
    ).encode()


def bench_decisions(n: int) -> list[str]:
    rules, teams, reps = world()
    rng = random.Random(11)
    leads = [
        (
            {
                "province": rng.choice(PROVINCES),
                "channel": rng.choice(CHANNELS),
                "industry": rng.choice(INDUSTRIES),
                "city": "",
                "product_interest": "",
                "customer_id": "",
                "customer_tier": "",
                "has_owner": "false",
            },
            rng.randint(0, 100),
        )
        for _ in range(n)
    ]
    now = datetime.now(UTC)
    started = time.perf_counter()
    problems = validate_rule_set(rules, teams, reps)
    validate_ms = (time.perf_counter() - started) * 1000
    for fields, score in leads[:500]:  # warm-up
        decide(rules, fields, score, reps, teams, now)
    durations = []
    assigned = 0
    wall = time.perf_counter()
    for fields, score in leads:
        t0 = time.perf_counter_ns()
        decision = decide(rules, fields, score, reps, teams, now)
        durations.append(time.perf_counter_ns() - t0)
        if decision.rep_id is not None:
            assigned += 1
    wall = time.perf_counter() - wall
    durations.sort()
    p = lambda q: durations[min(len(durations) - 1, int(q * len(durations)))] / 1e6  # noqa: E731
    cpu = time.process_time()
    return [
        f"routing engine, in process: {len(rules)} rules, {sum(len(r) for r in reps.values())} reps in {len(teams)} "
        f"teams (half with a calendar), {n} leads",
        f"  {n / wall:,.0f} decisions/s on one core; per decision p50 {p(0.5):.3f} ms, p99 {p(0.99):.3f} ms, "
        f"p99.9 {p(0.999):.3f} ms, max {durations[-1] / 1e6:.3f} ms, mean {statistics.fmean(durations) / 1e6:.3f} ms "
        f"(target p99 < {TARGET_P99_MS} ms)",
        f"  {assigned} of {n} assigned to a rep (the rest: nobody eligible, so they wait or go to the pool)",
        f"  validating the 50-rule set against 500 reps: {validate_ms:.1f} ms, {len(problems)} problem(s) found",
        f"  process CPU so far {cpu:.1f} s",
    ]


def load_world_into(stack: Stack) -> tuple[int, int]:
    """Create the benchmark's teams, reps and rules in the stack's lead service; returns (reps, rule version)."""
    rules, teams, reps = world()
    channel = stack.channel("lead")
    stub = lead_pb2_grpc.LeadServiceStub(channel)
    ids: dict[str, str] = {}
    made = 0
    suffix = os.urandom(3).hex()
    for team_id, team in teams.items():
        created = stub.CreateTeam(lead_pb2.CreateTeamRequest(name=f"bench {team_id} {suffix}"), timeout=10).team
        ids[team_id] = created.id
        if team.calendar is not None:
            cal = lead_pb2.WorkCalendar(timezone="Asia/Shanghai", workdays=range(1, 8), start="00:00", end="23:59")
            stub.UpdateTeam(lead_pb2.UpdateTeamRequest(team_id=created.id, calendar=cal), timeout=10)
        for rep in reps[team_id]:
            rid = stub.CreateRep(lead_pb2.CreateRepRequest(name=rep.id, team_id=created.id), timeout=10).rep.id
            update = lead_pb2.UpdateRepRequest(
                rep_id=rid,
                capacity=100000,
                weight=rep.weight,
                skills=sorted(rep.skills),
                replace_skills=True,
                on_leave=rep.on_leave,
            )
            stub.UpdateRep(update, timeout=10)
            made += 1
    strategies = {"round_robin": 1, "least_open": 2, "skills_match": 3}
    protos = [
        lead_pb2.RoutingRule(
            name=r.name,
            priority=r.priority,
            conditions={k: lead_pb2.StringList(values=sorted(v)) for k, v in r.conditions.items()},
            team_id=ids[r.team_id or "team-00"],
            strategy=strategies[r.strategy],
            overflow_team_id=ids[r.overflow_team_id] if r.overflow_team_id else "",
            min_score=r.min_score,
            required_skills=sorted(r.required_skills),
        )
        for r in rules
    ]
    # Published as one validated set, as an administrator would (the set has no problems: see bench_decisions).
    published = stub.PublishRoutingRules(
        lead_pb2.PublishRoutingRulesRequest(rules=protos, published_by="tools.bench.routing"), timeout=30
    )
    version = published.version
    channel.close()
    return made, version


def histogram_summary(text: str, name: str, must_contain: str = "") -> str:
    """Count, mean and the p99 bucket of one exported histogram (lines filtered by a label substring)."""
    buckets = []
    count = total = 0.0
    for line in text.splitlines():
        if not line.startswith(name) or must_contain not in line:
            continue
        value = float(line.rsplit(" ", 1)[1])
        if line.startswith(f"{name}_bucket"):
            bound = line.split('le="', 1)[1].split('"', 1)[0]
            buckets.append((float("inf") if bound == "+Inf" else float(bound), value))
        elif line.startswith(f"{name}_count"):
            count = value
        elif line.startswith(f"{name}_sum"):
            total = value
    if not count:
        return f"{name}: nothing recorded"
    p99 = next(bound for bound, seen in sorted(buckets) if seen >= 0.99 * count)
    return (
        f"{name}{{{must_contain}}}: {count:.0f} observed, mean {1000 * total / count:.3f} ms, p99 ≤ {1000 * p99:g} ms"
    )


def routing_histogram(metrics_url: str) -> str:
    """Routing decisions and whole CaptureLead calls as the lead process measured them during the run."""
    text = httpx.get(metrics_url, timeout=5).text
    return "; ".join(
        (
            histogram_summary(text, "crm_lead_routing_decision_seconds"),
            histogram_summary(
                text, "crm_rpc_server_duration_seconds", 'rpc_grpc_status_code="OK",rpc_method="CaptureLead"'
            ),
        )
    )


def bench_stack(plan: Plan, workdir: Path) -> list[str]:
    stack = Stack(workdir, env_overrides={"CRM_LOG_LEVEL": "WARNING"}, log_level="WARNING")
    started = time.monotonic()
    try:
        info = stack.start()
    except (StackError, InfraError) as err:
        return [f"stack: did not start: {err}"]
    try:
        startup = time.monotonic() - started
        reps, version = load_world_into(stack)
        target = Target.at(info["gateway_url"], "/v1/leads", routed_form_body, bearer=info["api_key"])
        tap = EventTap(info["nats_url"], (("assigned", ASSIGNED_SUBJECT, assigned_lead_id),), final="assigned")
        pids = {name: stack.pid(name) for name in [*stack.specs, "postgres", "nats"]}
        with LoadGenerator() as loadgen:
            try:
                result = run_plan(loadgen, target, tap, plan, pids)
            except NothingCompleted as err:
                return [f"stack: no lead was assigned during the warm-up: {err}"]
        opened = result.open
        in_service = routing_histogram(info["services"]["lead"]["metrics"])
        head = [
            f"whole stack (started in {startup:.0f} s), {reps} bench reps and rule set version {version} "
            f"({RULES} bench rules) loaded:",
        ]
        if opened is not None and opened.events.get("assigned"):
            a = opened.events["assigned"]
            head.append(
                f"  at {plan.rate:.0f} leads/s for {plan.open_seconds:.0f} s: capture→assigned p50 {a.p50_ms:.1f} ms, "
                f"p99 {a.p99_ms:.1f} ms (target p99 < {TARGET_ASSIGNED_P99_MS:.0f} ms), lost {opened.lost}; "
                f"load generator CPU {opened.loadgen_cpu_percent:.0f}% of a core"
            )
        head.append(f"  inside the lead service under that load: {in_service}")
        return head + plan_lines("  details", result, plan, {"assigned": "capture→assigned"})
    finally:
        stack.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench.routing", description=__doc__)
    parser.add_argument("--decisions", type=int, default=20000, help="decisions timed in process")
    parser.add_argument("--rate", type=float, default=100.0, help="open-loop leads/s through the stack")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of the open and closed loops")
    parser.add_argument("--skip-stack", action="store_true", help="time the routing engine only")
    parser.add_argument("--workdir", type=Path, default=None, help="keep the stack's data and logs here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    lines = [f"routing benchmark: {os.cpu_count()} cores, python {platform.python_version()}", ""]
    lines += bench_decisions(args.decisions)
    if not args.skip_stack:
        plan = Plan(rate=args.rate, open_seconds=args.duration, closed_seconds=min(args.duration, 10.0))
        with tempfile.TemporaryDirectory(prefix="crm-bench-routing-") as tmp:
            lines += ["", *bench_stack(plan, (args.workdir or Path(tmp)).resolve())]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
