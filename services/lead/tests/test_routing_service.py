"""Routing on a real PostgreSQL and NATS: rule sets, explanations, clocks, pool, handover, quarantine, replicas."""

from __future__ import annotations

import asyncio
import collections
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from crm.lead.v1 import lead_pb2
from crm_common.bus.catalog import decode
from crm_common.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from crm_common.metrics import LEADS_WAITING
from crm_common.service import Runtime
from lead.app import DEFINITION
from lead.capture import use_cases as capture_cases
from lead.handlers import LeadServicer
from lead.ownership.clocks import refresh_gauges, run_clocks_once
from lead.tables import leads


async def _team(s: LeadServicer, name: str, n: int, manager: str = "") -> tuple[str, list[str]]:
    team = (await s.CreateTeam(lead_pb2.CreateTeamRequest(name=name), None)).team
    if manager:
        await s.UpdateTeam(lead_pb2.UpdateTeamRequest(team_id=team.id, manager_id=manager), None)
    reps = [
        (await s.CreateRep(lead_pb2.CreateRepRequest(name=f"{name}{i}", team_id=team.id), None)).rep.id
        for i in range(n)
    ]
    return team.id, reps


def _rule(name: str, priority: int, team_id: str = "", **kw) -> lead_pb2.RoutingRule:
    conditions = {k: lead_pb2.StringList(values=v) for k, v in kw.pop("conditions", {}).items()}
    return lead_pb2.RoutingRule(name=name, priority=priority, team_id=team_id, conditions=conditions, **kw)


async def _publish(s: LeadServicer, *rules: lead_pb2.RoutingRule) -> int:
    return (await s.PublishRoutingRules(lead_pb2.PublishRoutingRulesRequest(rules=list(rules)), None)).version


def _lead(phone: str, **kw) -> lead_pb2.CaptureLeadRequest:
    key = kw.pop("key", "")
    channel = kw.pop("channel", "web_form")
    kw.setdefault("name", "王芳")
    return lead_pb2.CaptureLeadRequest(
        lead=lead_pb2.LeadInput(phone=phone, source=lead_pb2.Source(channel=channel), **kw), idempotency_key=key
    )


async def _events(runtime: Runtime, subject: str, n: int) -> list:
    assert runtime.js is not None
    sub = await runtime.js.pull_subscribe(subject, stream="CRM_LEAD")
    got = []
    for _ in range(100):
        try:
            msgs = await sub.fetch(n - len(got), timeout=1)
        except TimeoutError:
            continue
        got += [decode(m.subject, m.data) for m in msgs]
        if len(got) >= n:
            break
    await sub.unsubscribe()
    return got


async def test_publish_rejects_a_bad_set_and_versions_a_good_one(runtime) -> None:
    s = LeadServicer(runtime)
    east, _ = await _team(s, "East", 2)
    empty, _ = await _team(s, "Empty", 0)
    bad = [
        _rule("zj", 10, east, conditions={"province": ["浙江"]}),
        _rule("zj-wecom", 10, east, conditions={"province": ["浙江"], "channel": ["wecom"]}),
        _rule("nobody", 20, empty),
    ]
    with pytest.raises(InvalidArgument) as err:
        await _publish(s, *bad)
    text = " ".join(v.description for v in err.value.violations)
    assert "overlap" in text and "no_eligible_rep" in text
    problems = (await s.ValidateRoutingRules(lead_pb2.ValidateRoutingRulesRequest(rules=bad), None)).problems
    assert {(p.rule, p.kind) for p in problems} == {("zj-wecom", "overlap"), ("nobody", "no_eligible_rep")}
    assert await _publish(s, _rule("zj", 10, east, conditions={"province": ["浙江"]})) == 1
    assert await _publish(s, _rule("all", 100, east)) == 2
    listed = await s.ListRoutingRules(lead_pb2.ListRoutingRulesRequest(), None)
    assert listed.version == 2 and [r.name for r in listed.rules] == ["all"]
    with pytest.raises(FailedPrecondition):
        await s.PublishRoutingRules(
            lead_pb2.PublishRoutingRulesRequest(rules=[_rule("x", 1, east)], expected_version=1), None
        )


async def test_routing_is_explained_and_dry_runs_store_nothing(runtime) -> None:
    s = LeadServicer(runtime)
    east, east_reps = await _team(s, "East", 2)
    west, west_reps = await _team(s, "West", 1)
    await s.UpdateRep(lead_pb2.UpdateRepRequest(rep_id=east_reps[1], on_leave=True), None)
    await _publish(s, _rule("sichuan", 10, west, conditions={"province": ["四川"]}), _rule("rest", 100, east))
    lead = (await s.CaptureLead(_lead("13812345678", province="浙江"), None)).lead
    assert lead.assignee_id == east_reps[0]
    decisions = (await s.ExplainRouting(lead_pb2.ExplainRoutingRequest(lead_id=lead.id), None)).decisions
    assert len(decisions) == 1
    d = decisions[0]
    assert (d.trigger, d.rule_name, d.rule_version, d.strategy) == ("capture", "rest", 1, "round_robin")
    assert list(d.eligible_rep_ids) == [east_reps[0]]
    assert {i.rep_id: i.reason for i in d.ineligible} == {east_reps[1]: "on leave"}
    draft = [_rule("everything-west", 100, west)]
    replay = await s.DryRunRouting(lead_pb2.DryRunRoutingRequest(rules=draft, days=1), None)
    assert [(o.lead_id, o.rep_id, o.current_rep_id) for o in replay.outcomes] == [(lead.id, west_reps[0], east_reps[0])]
    posted = await s.DryRunRouting(
        lead_pb2.DryRunRoutingRequest(
            rules=[_rule("sichuan", 10, west, conditions={"province": ["四川"]}), _rule("rest", 100, east)],
            leads=[lead_pb2.LeadInput(phone="13812345678", province="四川")] * 3 + [lead_pb2.LeadInput(phone="12")],
        ),
        None,
    )
    assert dict(posted.load_per_rep) == {west_reps[0]: 3}
    assert posted.outcomes[3].explanation.startswith("invalid: phone")
    async with runtime.db.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(leads)) == 1


async def test_capacity_counts_open_leads_and_the_account_owner_comes_first(runtime) -> None:
    s = LeadServicer(runtime)
    east, reps = await _team(s, "East", 2)
    await _publish(s, _rule("rest", 100, east, strategy=lead_pb2.ROUTING_STRATEGY_LEAST_OPEN))
    await s.UpdateRep(lead_pb2.UpdateRepRequest(rep_id=reps[0], capacity=1), None)
    first = (await s.CaptureLead(_lead("13812340001"), None)).lead
    second = (await s.CaptureLead(_lead("13812340002"), None)).lead
    third = (await s.CaptureLead(_lead("13812340003"), None)).lead
    assert {first.assignee_id, second.assignee_id} == set(reps)
    assert third.assignee_id == reps[1]  # reps[0] is at capacity
    listed = {r.id: r.open_leads for r in (await s.ListReps(lead_pb2.ListRepsRequest(), None)).reps}
    assert listed == {reps[0]: 1, reps[1]: 2}


async def test_claim_window_lapses_to_the_next_rep_then_overflow_then_pool(runtime) -> None:
    s = LeadServicer(runtime)
    east, east_reps = await _team(s, "East", 2, manager="mgr-east")
    support, support_reps = await _team(s, "Support", 1, manager="mgr-support")
    await _publish(s, _rule("rest", 100, east, overflow_team_id=support))
    lead = (await s.CaptureLead(_lead("13812345678"), None)).lead
    assert lead.claim_deadline_at.ToDatetime(tzinfo=UTC) - lead.assigned_at.ToDatetime(tzinfo=UTC) == timedelta(hours=2)
    first = lead.assignee_id
    with pytest.raises(PermissionDenied):  # nobody else can take it during the window
        await s.ClaimLead(
            lead_pb2.ClaimLeadRequest(lead_id=lead.id, rep_id=next(r for r in east_reps if r != first)), None
        )
    later = datetime.now(UTC) + timedelta(hours=3)
    assert await run_clocks_once(runtime, now=later) == 1
    moved = (await s.GetLead(lead_pb2.GetLeadRequest(lead_id=lead.id), None)).lead
    second = moved.assignee_id
    assert second in east_reps and second != first
    assert await run_clocks_once(runtime, now=later + timedelta(hours=3)) == 1
    moved = (await s.GetLead(lead_pb2.GetLeadRequest(lead_id=lead.id), None)).lead
    assert moved.assignee_id == support_reps[0]
    assert await run_clocks_once(runtime, now=later + timedelta(hours=6)) == 1
    pooled = (await s.GetLead(lead_pb2.GetLeadRequest(lead_id=lead.id), None)).lead
    assert pooled.status == lead_pb2.LEAD_STATUS_POOL and not pooled.assignee_id
    steps = [t.step for t in pooled.timeline]
    assert steps.count("escalated") == 3 and steps.count("reassigned") == 2 and steps[-1] == "returned_to_pool"
    reassigned = await _events(runtime, "crm.lead.reassigned", 2)
    assert [(e.from_rep_id, e.to_rep_id, e.reason, e.manager_id) for e in reassigned] == [
        (first, second, "claim_expired", "mgr-east"),
        (second, support_reps[0], "claim_expired", "mgr-east"),
    ]
    escalated = await _events(runtime, "crm.lead.escalated", 3)
    assert [(e.kind, e.manager_id) for e in escalated] == [
        ("claim_window", "mgr-east"),
        ("claim_window", "mgr-east"),
        ("claim_window", "mgr-support"),
    ]
    assigned = await _events(runtime, "crm.lead.assigned", 3)
    assert [e.assignee_id for e in assigned] == [first, second, support_reps[0]]
    returned = await _events(runtime, "crm.lead.returned_to_pool", 1)
    assert (returned[0].rep_id, returned[0].reason) == (support_reps[0], "no_eligible_rep")
    trigger = [
        d.trigger for d in (await s.ExplainRouting(lead_pb2.ExplainRoutingRequest(lead_id=lead.id), None)).decisions
    ]
    assert trigger == ["capture", "claim_expired", "claim_expired", "claim_expired"]


async def test_first_contact_sla_then_pool_warning_return_cooldown_and_masked_pool(runtime) -> None:
    s = LeadServicer(runtime)
    east, reps = await _team(s, "East", 2, manager="mgr")
    await _publish(s, _rule("rest", 100, east))
    lead = (await s.CaptureLead(_lead("13812345678", email="wang.fang@example.com"), None)).lead
    owner = lead.assignee_id
    other = next(r for r in reps if r != owner)
    await s.ClaimLead(lead_pb2.ClaimLeadRequest(lead_id=lead.id, rep_id=owner), None)
    now = datetime.now(UTC)
    assert await run_clocks_once(runtime, now=now + timedelta(hours=1)) == 0
    assert await run_clocks_once(runtime, now=now + timedelta(hours=25)) == 1  # first-contact SLA breached
    assert await run_clocks_once(runtime, now=now + timedelta(days=6, hours=1)) == 1  # pool warning
    assert await run_clocks_once(runtime, now=now + timedelta(days=7, hours=1)) == 1  # back to the pool
    escalated = await _events(runtime, "crm.lead.escalated", 2)
    assert [(e.kind, e.rep_id, e.manager_id) for e in escalated] == [
        ("first_contact_sla", owner, "mgr"),
        ("pool_warning", owner, "mgr"),
    ]
    returned = await _events(runtime, "crm.lead.returned_to_pool", 1)
    assert (returned[0].rep_id, returned[0].reason) == (owner, "no_follow_up")
    pool = (await s.ListPool(lead_pb2.ListPoolRequest(), None)).leads
    assert [(p.id, p.masked_phone, p.masked_email) for p in pool] == [(lead.id, "+86138****5678", "w***@example.com")]
    with pytest.raises(FailedPrecondition, match="again after"):
        await s.ClaimFromPool(lead_pb2.ClaimFromPoolRequest(lead_id=lead.id, rep_id=owner), None)
    await s.UpdateRep(lead_pb2.UpdateRepRequest(rep_id=other, holding_limit=0), None)
    with pytest.raises(FailedPrecondition, match="holding limit"):
        await s.ClaimFromPool(lead_pb2.ClaimFromPoolRequest(lead_id=lead.id, rep_id=other), None)
    await s.UpdateRep(lead_pb2.UpdateRepRequest(rep_id=other, holding_limit=5), None)
    taken = (await s.ClaimFromPool(lead_pb2.ClaimFromPoolRequest(lead_id=lead.id, rep_id=other), None)).lead
    assert (taken.status, taken.assignee_id) == (lead_pb2.LEAD_STATUS_CLAIMED, other)
    assert (await s.ListPool(lead_pb2.ListPoolRequest(), None)).leads == []


async def test_deactivating_a_rep_moves_every_open_lead_by_rules_or_to_a_successor(runtime) -> None:
    s = LeadServicer(runtime)
    east, reps = await _team(s, "East", 3, manager="mgr")
    await _publish(s, _rule("rest", 100, east))
    captured = [(await s.CaptureLead(_lead(f"1381234{i:04d}"), None)).lead for i in range(6)]
    leaving = reps[0]
    theirs = [lead.id for lead in captured if lead.assignee_id == leaving]
    assert len(theirs) == 2
    reply = await s.SetRepActive(lead_pb2.SetRepActiveRequest(rep_id=leaving, active=False), None)
    assert reply.moved_leads == 2 and not reply.rep.active
    for lead_id in theirs:
        lead = (await s.GetLead(lead_pb2.GetLeadRequest(lead_id=lead_id), None)).lead
        assert lead.assignee_id in reps[1:]
        assert "reassigned" in [t.step for t in lead.timeline]
    events = await _events(runtime, "crm.lead.reassigned", 2)
    assert {(e.from_rep_id, e.reason, e.manager_id) for e in events} == {(leaving, "rep_deactivated", "mgr")}
    successor = reps[2]
    reply = await s.SetRepActive(
        lead_pb2.SetRepActiveRequest(rep_id=reps[1], active=False, successor_rep_id=successor), None
    )
    assert reply.moved_leads >= 2
    async with runtime.db.connect() as conn:
        owners = set((await conn.execute(select(leads.c.assignee_id))).scalars())
    assert owners == {successor}


async def test_quarantine_keeps_and_releases_and_repeats_become_touches(runtime) -> None:
    s = LeadServicer(runtime)
    east, _ = await _team(s, "East", 1)
    await _publish(s, _rule("rest", 100, east))
    held = await s.CaptureLead(_lead("13812345678", name="测试", key="form-9"), None)
    assert held.quarantined and not held.HasField("lead")
    assert held.quarantine.reasons == ["looks like a test submission (name)"]
    again = await s.CaptureLead(_lead("13812345678", name="测试", key="form-9"), None)
    assert again.quarantined and again.quarantine.id == held.quarantine.id
    listed = (await s.ListQuarantine(lead_pb2.ListQuarantineRequest(), None)).submissions
    assert [q.id for q in listed] == [held.quarantine.id] and listed[0].input.name == "测试"
    released = (
        await s.ReleaseQuarantined(lead_pb2.ReleaseQuarantinedRequest(quarantine_id=held.quarantine.id), None)
    ).lead
    assert released.assignee_id and "released" in [t.step for t in released.timeline]
    assert (await s.ListQuarantine(lead_pb2.ListQuarantineRequest(), None)).submissions == []
    repeat = await s.CaptureLead(_lead("138-1234-5678", name="王芳"), None)
    assert repeat.duplicate and not repeat.created and repeat.lead.id == released.id
    assert repeat.lead.touches == 1 and repeat.lead.timeline[-1].step == "touch"
    other_channel = await s.CaptureLead(_lead("13812345678", channel="wecom"), None)
    assert other_channel.created


async def test_calendar_and_leave_make_reps_ineligible_until_they_are_back(runtime) -> None:
    s = LeadServicer(runtime)
    east, reps = await _team(s, "East", 1)
    today = datetime.now(UTC).date()
    days_off = [str(today + timedelta(days=d)) for d in (-1, 0, 1)]  # closed now, whatever the hour in Shanghai
    closed = lead_pb2.WorkCalendar(timezone="Asia/Shanghai", workdays=range(1, 8), holidays=days_off)
    await s.UpdateTeam(lead_pb2.UpdateTeamRequest(team_id=east, calendar=closed), None)
    await _publish(s, _rule("rest", 100, east))
    lead = (await s.CaptureLead(_lead("13812345678"), None)).lead
    assert lead.status == lead_pb2.LEAD_STATUS_NEW
    d = (await s.ExplainRouting(lead_pb2.ExplainRoutingRequest(lead_id=lead.id), None)).decisions[0]
    assert [(i.rep_id, i.reason) for i in d.ineligible] == [(reps[0], "outside working hours")]
    for _ in range(2):  # the sweeper retries, but does not pile up identical explanations
        await capture_cases._sweep_once(runtime, older_than=datetime.now(UTC) + timedelta(seconds=1))
    explained = await s.ExplainRouting(lead_pb2.ExplainRoutingRequest(lead_id=lead.id), None)
    assert len(explained.decisions) == 1
    await s.UpdateTeam(lead_pb2.UpdateTeamRequest(team_id=east, clear_calendar=True), None)  # around the clock
    await capture_cases._sweep_once(runtime, older_than=datetime.now(UTC) + timedelta(seconds=1))
    swept = (await s.ExplainRouting(lead_pb2.ExplainRoutingRequest(lead_id=lead.id), None)).decisions
    assert [(x.trigger, x.chosen_rep_id) for x in swept] == [("capture", ""), ("sweep", reps[0])]
    with pytest.raises(InvalidArgument):
        bad = lead_pb2.WorkCalendar(timezone="Mars/Olympus")
        await s.UpdateTeam(lead_pb2.UpdateTeamRequest(team_id=east, calendar=bad), None)


async def test_replicas_assign_in_parallel_once_each_and_fairly(runtime) -> None:
    s = LeadServicer(runtime)
    east, reps = await _team(s, "East", 4)
    await _publish(s, _rule("rest", 100, east))
    replicas = [Runtime(DEFINITION, runtime.settings) for _ in range(3)]
    for replica in replicas:
        replica.peers = runtime.peers
    try:
        servicers = [LeadServicer(r) for r in replicas]
        calls = [servicers[i % 3].CaptureLead(_lead(f"1391234{i:04d}"), None) for i in range(40)]
        responses = await asyncio.gather(*calls)
    finally:
        for replica in replicas:
            await replica.db.dispose()
    counts = collections.Counter(r.lead.assignee_id for r in responses)
    assert set(counts) == set(reps) and max(counts.values()) - min(counts.values()) <= 1
    assigned = await _events(runtime, "crm.lead.assigned", 40)
    assert len({e.lead_id for e in assigned}) == 40
    await refresh_gauges(runtime, datetime.now(UTC))
    assert LEADS_WAITING.labels("unclaimed")._value.get() == 40


async def test_a_departure_during_captures_on_other_replicas_leaves_nothing_with_the_leaver(runtime) -> None:
    s = LeadServicer(runtime)
    east, reps = await _team(s, "East", 3)
    await _publish(s, _rule("rest", 100, east))
    replicas = [Runtime(DEFINITION, runtime.settings) for _ in range(2)]
    for replica in replicas:
        replica.peers = runtime.peers
    try:
        servicers = [LeadServicer(r) for r in replicas]
        captures = [servicers[i % 2].CaptureLead(_lead(f"1371234{i:04d}"), None) for i in range(30)]
        leaving = s.SetRepActive(lead_pb2.SetRepActiveRequest(rep_id=reps[0], active=False), None)
        results = await asyncio.gather(*captures[:10], leaving, *captures[10:])
    finally:
        for replica in replicas:
            await replica.db.dispose()
    assert not results[10].rep.active
    async with runtime.db.connect() as conn:
        owners = collections.Counter((await conn.execute(select(leads.c.assignee_id))).scalars())
    assert reps[0] not in owners and sum(owners.values()) == 30 and set(owners) <= set(reps[1:])
