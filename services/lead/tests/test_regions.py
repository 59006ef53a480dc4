"""Region conditions: the region a lead's province belongs to, rules on it, and their publish-time checks."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from crm.lead.v1 import lead_pb2
from lead.domain import DEFAULT_REGIONS, region_of, set_regions, validate_lead
from lead.routing.engine import RepState, Rule, TeamState, decide, validate_rule_set
from lead.settings import LeadSettings

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
TEAMS = {t: TeamState(t) for t in ("east", "south", "north")}
REPS = {t: [RepState(f"{t}-rep", t)] for t in TEAMS}


@pytest.fixture(autouse=True)
def default_regions() -> Iterator[None]:
    yield
    set_regions(DEFAULT_REGIONS)


def rule(name: str, team: str, priority: int = 100, **conditions: list[str]) -> Rule:
    return Rule(
        id=name, name=name, priority=priority, conditions={k: frozenset(v) for k, v in conditions.items()}, team_id=team
    )


@pytest.mark.parametrize(
    ("province", "region"),
    [("浙江", "华东"), ("浙江省", "华东"), ("广西壮族自治区", "华南"), ("黑龙江省", "东北"), ("", ""), ("火星", "")],
)
def test_a_province_belongs_to_one_region(province: str, region: str) -> None:
    assert region_of(province) == region


def test_a_lead_located_by_its_phone_routes_by_region() -> None:
    # No province on the form: the number's geocoding puts it in Hangzhou, so the 华东 rule takes it.
    lead = validate_lead(lead_pb2.LeadInput(name="王", phone="+86 138 0571 0000"), region="CN")
    assert lead.location_inferred
    fields = lead.routing_fields(None)
    assert fields["region"] == region_of(lead.province) == "华东"
    rules = [rule("east", "east", region=["华东"]), rule("south", "south", region=["华南"])]
    decision = decide(rules, fields, 0, REPS, TEAMS, NOW)
    assert decision.rule is not None and decision.rule.name == "east"
    assert decision.rep_id == "east-rep"


def test_unknown_region_is_refused_with_the_configured_names() -> None:
    problems = validate_rule_set([rule("mars", "east", region=["火星区"])], TEAMS, REPS)
    assert [(p.rule, p.kind) for p in problems] == [("mars", "unreachable")]
    assert "火星区" in problems[0].message and "华东" in problems[0].message


def test_region_and_province_rules_are_compared_as_places() -> None:
    disjoint = [rule("east", "east", region=["华东"]), rule("guangdong", "south", province=["广东省"])]
    assert validate_rule_set(disjoint, TEAMS, REPS) == []
    overlapping = [rule("east", "east", region=["华东"]), rule("zhejiang", "north", province=["浙江"])]
    assert [(p.rule, p.kind) for p in validate_rule_set(overlapping, TEAMS, REPS)] == [("zhejiang", "overlap")]
    # A region rule first takes every lead a later rule on one of its provinces would match.
    shadowed = [rule("east", "east", 10, region=["华东"]), rule("shanghai", "north", 20, province=["上海"])]
    assert [(p.rule, p.kind) for p in validate_rule_set(shadowed, TEAMS, REPS)] == [("shanghai", "unreachable")]


def test_a_deployment_defines_its_own_regions() -> None:
    settings = LeadSettings(regions={"江浙沪": ["江苏", "浙江省", "上海市"], "其他": ["广东"]})
    set_regions(settings.regions)
    assert region_of("浙江") == "江浙沪"
    assert region_of("安徽") == ""
    assert [p.kind for p in validate_rule_set([rule("e", "east", region=["华东"])], TEAMS, REPS)] == ["unreachable"]


@pytest.mark.parametrize(
    ("regions", "message"),
    [
        ({"东": ["浙江"], "南": ["浙江省"]}, "province '浙江' is in both '东' and '南'"),
        ({"东": ["浙江", "浙江"]}, "region '东' lists '浙江' twice"),
        ({"东": ["火星"]}, "region '东': '火星' is not a province"),
        ({"东": []}, "region '东' lists no provinces"),
    ],
)
def test_a_bad_region_map_is_refused_naming_the_problem(regions: dict[str, list[str]], message: str) -> None:
    with pytest.raises(ValidationError, match="regions") as err:
        LeadSettings(regions=regions)
    assert message in str(err.value)
