"""The routing engine without a database: calendars, eligibility, strategies, explanations, rule-set validation."""

from __future__ import annotations

import collections
from datetime import UTC, date, datetime, time, timedelta

import pytest

from crm.lead.v1 import lead_pb2
from lead.domain import mask_email, mask_phone, quarantine_reasons, score_lead, validate_lead
from lead.routing.engine import Calendar, RepState, Rule, TeamState, decide, validate_rule_set, why_ineligible

CN = "Asia/Shanghai"
# Thursday 2026-10-01 is National Day (holiday); Saturday 2026-10-10 is a make-up working day.
CAL = Calendar(
    timezone=CN,
    start=time(9, 0),
    end=time(18, 0),
    holidays=frozenset({date(2026, 10, 1)}),
    makeup_workdays=frozenset({date(2026, 10, 10)}),
)


def local(*args: int) -> datetime:
    from zoneinfo import ZoneInfo

    return datetime(*args, tzinfo=ZoneInfo(CN)).astimezone(UTC)


def rule(name: str, priority: int = 100, team: str | None = "east", **kw: object) -> Rule:
    conditions = {k: frozenset(v) for k, v in dict(kw.pop("conditions", {})).items()}  # type: ignore[call-overload]
    return Rule(id=name, name=name, priority=priority, conditions=conditions, team_id=team, **kw)  # type: ignore[arg-type]


def test_calendar_knows_hours_holidays_and_makeup_days() -> None:
    assert CAL.is_open(local(2026, 9, 30, 10, 0))  # Wednesday
    assert not CAL.is_open(local(2026, 9, 30, 8, 59))
    assert not CAL.is_open(local(2026, 9, 30, 18, 0))
    assert not CAL.is_open(local(2026, 10, 1, 10, 0))  # holiday on a Thursday
    assert not CAL.is_open(local(2026, 10, 3, 10, 0))  # Saturday
    assert CAL.is_open(local(2026, 10, 10, 10, 0))  # make-up Saturday


def test_claim_window_counts_working_time_only() -> None:
    # 17:00 Wednesday + 2 working hours: one hour today, one hour on Friday (Thursday is a holiday).
    assert CAL.add_working_time(local(2026, 9, 30, 17, 0), timedelta(hours=2)) == local(2026, 10, 2, 10, 0)
    # Captured at night: the clock starts when the day does.
    assert CAL.add_working_time(local(2026, 9, 29, 23, 0), timedelta(hours=2)) == local(2026, 9, 30, 11, 0)
    # Friday 17:30 + 1 h: Saturday and Sunday are off.
    assert CAL.add_working_time(local(2026, 9, 25, 17, 30), timedelta(hours=1)) == local(2026, 9, 28, 9, 30)


def test_every_reason_a_rep_is_passed_over_is_named() -> None:
    now = local(2026, 9, 30, 10, 0)
    team = TeamState("east", calendar=CAL)
    assert why_ineligible(RepState("a", "east", active=False), team, now, (), frozenset()) == "inactive"
    assert "on leave" in why_ineligible(RepState("a", "east", on_leave=True), team, now, (), frozenset())
    back = RepState("a", "east", on_leave=True, leave_until=now - timedelta(hours=1))
    assert why_ineligible(back, team, now, (), frozenset()) is None
    assert "capacity" in why_ineligible(RepState("a", "east", capacity=3, open_leads=3), team, now, (), frozenset())
    assert "lapsed" in why_ineligible(RepState("a", "east"), team, now, ("a",), frozenset())
    assert "lacks skill erp" in why_ineligible(RepState("a", "east"), team, now, (), frozenset({"erp"}))
    night = local(2026, 9, 30, 22, 0)
    assert why_ineligible(RepState("a", "east"), team, night, (), frozenset()) == "outside working hours"


def _round(strategy: str, reps: list[RepState], n: int) -> collections.Counter[str]:
    counts: collections.Counter[str] = collections.Counter()
    now = datetime(2026, 9, 30, 3, tzinfo=UTC)
    for _ in range(n):
        d = decide([rule("r", strategy=strategy)], {}, 50, {"east": reps}, {"east": TeamState("east")}, now)
        assert d.rep_id is not None
        counts[d.rep_id] += 1
        for r in reps:
            if r.id == d.rep_id:
                r.served = (r.served or 0) + 1
                r.open_leads += 1
    return counts


def test_round_robin_is_fair_and_weighted() -> None:
    assert set(_round("round_robin", [RepState(x, "east") for x in "abc"], 9).values()) == {3}
    weighted = _round("round_robin", [RepState("a", "east", weight=2), RepState("b", "east")], 30)
    assert weighted == {"a": 20, "b": 10}


def test_least_open_work_and_skills_match() -> None:
    reps = [RepState("a", "east", open_leads=5), RepState("b", "east", open_leads=1)]
    assert _round("least_open", reps, 4) == {"b": 4}
    skilled = [RepState("a", "east"), RepState("b", "east", skills=frozenset({"erp", "cloud"}))]
    now = datetime(2026, 9, 30, 3, tzinfo=UTC)
    d = decide(
        [rule("erp", strategy="skills_match", required_skills=frozenset({"erp"}))],
        {},
        0,
        {"east": skilled},
        {"east": TeamState("east")},
        now,
    )
    assert d.rep_id == "b"
    assert d.ineligible == {"a": "lacks skill erp"}


def test_decision_explains_rule_owner_overflow_and_pool() -> None:
    now = datetime(2026, 9, 30, 3, tzinfo=UTC)
    rules = [
        rule("zj", 10, conditions={"province": ["浙江"]}, overflow_team_id="support"),
        rule("hot", 20, min_score=80, to_pool=True, team=None),
        rule("rest", 100),
    ]
    teams = {"east": TeamState("east"), "support": TeamState("support")}
    reps = {"east": [RepState("e1", "east", active=False)], "support": [RepState("s1", "support")]}
    d = decide(rules, {"province": "浙江"}, 10, reps, teams, now)
    assert (d.rule_name, d.team_id, d.rep_id) == ("zj", "support", "s1")
    assert d.ineligible == {"e1": "inactive"} and d.eligible == ["s1"]
    assert "overflow" in d.explanation
    assert decide(rules, {"province": "江苏"}, 90, reps, teams, now).to_pool
    waiting = decide(rules, {"province": "江苏"}, 10, reps, teams, now)
    assert waiting.rep_id is None and not waiting.to_pool and "waits" in waiting.explanation
    owner = RepState("s1", "support")
    d = decide(rules, {"province": "江苏"}, 10, reps, teams, now, owner=owner)
    assert (d.rule_name, d.rep_id, d.strategy) == ("account_owner", "s1", "account_owner")
    gone = RepState("o", "east", on_leave=True)
    d = decide(rules, {"province": "浙江"}, 10, reps, teams, now, owner=gone)
    assert d.rep_id == "s1" and d.ineligible["o"].startswith("account owner but on leave")


def test_rule_set_validation_names_every_problem() -> None:
    teams = {"east": TeamState("east"), "west": TeamState("west"), "empty": TeamState("empty")}
    reps = {"east": [RepState("e", "east")], "west": [RepState("w", "west")]}
    rules = [
        rule("a", 10, conditions={"province": ["浙江", "江苏"]}),
        rule("b", 10, conditions={"province": ["江苏"], "channel": ["wecom"]}),  # overlaps a at 10
        rule("c", 20, conditions={"province": ["浙江"]}),  # a takes all of it first
        rule("d", 30, team="empty"),  # nobody to receive
        rule("e", 40, team="east", overflow_team_id="west", conditions={"industry": ["x"]}),
        rule("f", 50, team="west", overflow_team_id="east", conditions={"industry": ["y"]}),  # cycle with e
        rule("g", 60, conditions={"planet": ["mars"]}),
        rule("h", 70, min_score=90, max_score=10),
    ]
    kinds = {(p.rule, p.kind) for p in validate_rule_set(rules, teams, reps)}
    assert ("b", "overlap") in kinds
    assert ("c", "unreachable") in kinds
    assert ("d", "no_eligible_rep") in kinds
    assert ("e", "cycle") in kinds and ("f", "cycle") in kinds
    assert ("g", "invalid") in kinds
    assert ("h", "unreachable") in kinds
    assert ("a", "overlap") not in kinds
    clean = [rule("a", 10, conditions={"province": ["浙江"]}), rule("b", 10, conditions={"province": ["江苏"]})]
    assert validate_rule_set([*clean, rule("rest", 100)], teams, reps) == []


def test_a_rule_may_not_send_a_team_leads_from_outside_its_territories() -> None:
    teams = {
        "east": TeamState("east", territories=("华东",)),  # a region: its provinces
        "zj": TeamState("zj", territories=("浙江省",)),  # a province, as people write it
        "city": TeamState("city", territories=("杭州",)),  # not a province or region: not judged
        "open": TeamState("open"),  # declares none: not judged
    }
    reps = {t: [RepState(f"{t}-1", t)] for t in teams}
    rules = [
        rule("zj-ok", 10, team="zj", conditions={"province": ["浙江"]}),
        rule("east-ok", 20, team="east", conditions={"region": ["华东"], "channel": ["wecom"]}),
        rule("east-narrowed", 30, team="east", conditions={"region": ["华东", "华南"], "province": ["上海"]}),
        rule("zj-too-wide", 40, team="zj", conditions={"region": ["华东"], "industry": ["x"]}),
        rule("east-sichuan", 50, team="east", conditions={"province": ["四川", "江苏"]}),
        rule("zj-everything", 60, team="zj", conditions={"industry": ["y"]}),
        rule("zj-cities", 70, team="zj", conditions={"city": ["杭州"], "industry": ["z"]}),
        rule("city-team", 80, team="city", conditions={"industry": ["w"]}),
        rule("overflow-is-fallback", 90, team="zj", overflow_team_id="east", conditions={"province": ["浙江"], "channel": ["api"]}),
        rule("rest", 100, team="open"),
    ]
    problems = {p.rule: p.message for p in validate_rule_set(rules, teams, reps) if p.kind == "territory"}
    assert set(problems) == {"zj-too-wide", "east-sichuan", "zj-everything"}
    assert "上海" in problems["zj-too-wide"] and "浙江" not in problems["zj-too-wide"].split("cover only")[0]
    assert problems["east-sichuan"] == "sends leads from 四川 to team east, whose territories cover only 华东"
    assert problems["zj-everything"].startswith("sends leads from every province to team zj")


@pytest.mark.parametrize(
    ("channel", "expected"), [("web_form", 36.0), ("wechat_miniprogram", 24.0), ("unknown_channel", 20.0)]
)
def test_score_parts_weigh_the_channel(channel: str, expected: float) -> None:
    lead = validate_lead(
        lead_pb2.LeadInput(name="王芳", phone="13812345678", source=lead_pb2.Source(channel=channel)), region="CN"
    )
    parts = score_lead(lead, {"web_form": 1.8, "wechat_miniprogram": 1.2}, 1.0)
    assert parts["channel"] == expected
    assert parts["product_interest"] == 0.0
    assert 0 < parts["completeness"] < 40


def test_location_is_inferred_from_the_number_and_marked() -> None:
    lead = validate_lead(lead_pb2.LeadInput(name="王芳", phone="138 1234 5678"), region="CN")
    assert (lead.province, lead.city, lead.location_inferred) == ("江苏", "连云港", True)
    given = validate_lead(
        lead_pb2.LeadInput(name="王芳", phone="13812345678", province="浙江", city="杭州"), region="CN"
    )
    assert (given.province, given.city, given.location_inferred) == ("浙江", "杭州", False)
    beijing = validate_lead(lead_pb2.LeadInput(name="王芳", phone="18612345678"), region="CN")
    assert (beijing.province, beijing.city) == ("北京", "北京")


def test_business_rules_quarantine_but_syntax_does_not() -> None:
    lead = validate_lead(lead_pb2.LeadInput(name="测试", email="a@mailinator.com"), region="CN")
    reasons = quarantine_reasons(lead, blocked_email_domains=["mailinator.com"], blocked_phones=[])
    assert len(reasons) == 2
    ok = validate_lead(lead_pb2.LeadInput(name="王芳", email="wang@example.com"), region="CN")
    assert quarantine_reasons(ok, blocked_email_domains=["mailinator.com"], blocked_phones=[]) == []


def test_contact_details_are_masked() -> None:
    assert mask_phone("+8613812345678") == "+86138****5678"
    assert mask_email("zhang.wei@example.com") == "z***@example.com"
