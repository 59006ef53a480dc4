"""Rule administration and routing conditions through the service (real PostgreSQL and NATS)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update

from crm.lead.v1 import lead_pb2
from crm_common.errors import InvalidArgument
from lead.capture import use_cases as capture_cases
from lead.domain import CONDITION_FIELDS
from lead.handlers import LeadServicer
from lead.routing.engine import Rule, validate_rule_set
from lead.tables import leads

from .test_routing_service import _publish, _rule, _team

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def customers(monkeypatch) -> dict[str, str]:
    """Phone (E.164) -> the customer id the customer master answers for it (no entry: it cannot answer)."""
    known: dict[str, str] = {}

    async def resolve(runtime, lead, source_ref):
        return known.get(lead.phone_e164)

    monkeypatch.setattr(capture_cases, "resolve_customer", resolve)
    return known


async def _put(s: LeadServicer, rule: lead_pb2.RoutingRule) -> lead_pb2.RoutingRule:
    return (await s.PutRoutingRule(lead_pb2.PutRoutingRuleRequest(rule=rule), None)).rule


async def _capture(s: LeadServicer, phone: str, **kw) -> lead_pb2.Lead:
    kw.setdefault("name", "王芳")
    kw.setdefault("province", "浙江")
    kw.setdefault("city", "杭州")
    request = lead_pb2.CaptureLeadRequest(
        lead=lead_pb2.LeadInput(phone=phone, source=lead_pb2.Source(channel="web_form"), **kw)
    )
    return (await s.CaptureLead(request, None)).lead


async def _get(s: LeadServicer, lead_id: str) -> lead_pb2.Lead:
    return (await s.GetLead(lead_pb2.GetLeadRequest(lead_id=lead_id), None)).lead


async def _live(s: LeadServicer) -> lead_pb2.ListRoutingRulesResponse:
    return await s.ListRoutingRules(lead_pb2.ListRoutingRulesRequest(), None)


def _descriptions(err: pytest.ExceptionInfo[InvalidArgument]) -> list[tuple[str, str]]:
    return sorted((v.field, v.description) for v in err.value.violations)


async def test_a_pooled_lead_shows_masked_contact_details_until_claimed(runtime) -> None:
    s = LeadServicer(runtime)
    _, reps = await _team(s, "East", 1)
    await _publish(s, _rule("cold", 10, to_pool=True))
    captured = await _capture(s, "13812345678", email="wang.fang@example.com")
    pooled = await _get(s, captured.id)
    assert pooled.status == lead_pb2.LEAD_STATUS_POOL
    assert (pooled.input.phone, pooled.input.email) == ("+86138****5678", "w***@example.com")
    listed = (await s.ListPool(lead_pb2.ListPoolRequest(), None)).leads
    assert [(p.masked_phone, p.masked_email) for p in listed] == [(pooled.input.phone, pooled.input.email)]
    taken = (await s.ClaimFromPool(lead_pb2.ClaimFromPoolRequest(lead_id=captured.id, rep_id=reps[0]), None)).lead
    assert (taken.input.phone, taken.input.email) == ("+8613812345678", "wang.fang@example.com")
    assert (await _get(s, captured.id)).input.phone == "+8613812345678"


async def test_put_routing_rule_validates_the_resulting_set_as_publishing_does(runtime) -> None:
    s = LeadServicer(runtime)
    east, _ = await _team(s, "East", 1)
    west, _ = await _team(s, "West", 1)
    everyone = await _put(s, _rule("everyone", 100, east))
    assert (await _live(s)).version == 1
    # Every field routing supports is accepted, and a rule may send leads to the pool.
    conditions = {"region": ["华东"], "customer_tier": ["strategic"], "has_owner": ["false"]}
    await _put(s, _rule("east-strategic", 10, west, conditions=conditions))
    await _put(s, _rule("cold", 90, max_score=10, to_pool=True))
    live = await _live(s)
    assert live.version == 3 and [r.name for r in live.rules] == ["east-strategic", "cold", "everyone"]
    assert live.rules[1].to_pool and not live.rules[1].team_id

    overlapping = _rule("also-everyone", 100, west)
    with pytest.raises(InvalidArgument) as put_err:
        await _put(s, overlapping)
    with pytest.raises(InvalidArgument) as publish_err:
        await _publish(s, *live.rules, overlapping)
    assert _descriptions(put_err) == _descriptions(publish_err)
    assert _descriptions(put_err) == [
        ("rules[also-everyone]", "overlap: overlaps 'everyone' at the same priority 100"),
    ]
    with pytest.raises(InvalidArgument) as unknown:
        await _put(s, _rule("planets", 20, east, conditions={"planet": ["mars"]}))
    assert _descriptions(unknown) == [
        ("rules[planets]", f"invalid: unknown field 'planet'; use {', '.join(CONDITION_FIELDS)}"),
    ]
    with pytest.raises(InvalidArgument):  # no team and not to the pool
        await _put(s, _rule("nowhere", 20))
    assert (await _live(s)).version == 3  # nothing refused was published

    edited = await _put(s, _rule("everyone", 100, west, id=everyone.id))
    live = await _live(s)
    assert edited.id == everyone.id and live.version == 4 and len(live.rules) == 3
    assert next(r for r in live.rules if r.name == "everyone").team_id == west


async def test_has_owner_takes_only_true_or_false(runtime) -> None:
    s = LeadServicer(runtime)
    east, _ = await _team(s, "East", 1)
    rule = _rule("returning", 10, east, conditions={"has_owner": ["yes"]})
    problems = (await s.ValidateRoutingRules(lead_pb2.ValidateRoutingRulesRequest(rules=[rule]), None)).problems
    assert [(p.rule, p.kind, p.message) for p in problems] == [
        ("returning", "invalid", "condition on 'has_owner' takes 'true' or 'false', not 'yes'")
    ]
    with pytest.raises(InvalidArgument, match="has_owner"):
        await _publish(s, rule)
    with pytest.raises(InvalidArgument, match="has_owner"):
        await _put(s, rule)
    assert await _publish(s, _rule("returning", 10, east, conditions={"has_owner": ["true", "false"]})) == 1


def test_has_owner_values_are_checked_by_the_rule_set_validation() -> None:
    rule = Rule(id="r", name="odd", priority=1, conditions={"has_owner": frozenset({"TRUE", "true"})}, team_id=None)
    problems = validate_rule_set([rule], {}, {})
    assert [(p.rule, p.kind) for p in problems if "has_owner" in p.message] == [("odd", "invalid")]


async def test_tier_city_and_product_conditions_route_matching_leads_to_their_team(runtime) -> None:
    s = LeadServicer(runtime)
    tier, tier_reps = await _team(s, "Key accounts", 1)
    city, city_reps = await _team(s, "Hangzhou", 1)
    product, product_reps = await _team(s, "Solutions", 1)
    rest, rest_reps = await _team(s, "Inside", 1)
    await _publish(
        s,
        _rule("strategic", 10, tier, conditions={"customer_tier": ["strategic"]}),
        _rule("ningbo", 20, city, conditions={"city": ["宁波"]}),
        _rule("erp", 30, product, conditions={"product_interest": ["ERP"]}),
        _rule("rest", 100, rest),
    )
    cases = [
        ({"customer_tier": "strategic"}, tier_reps[0]),
        ({"customer_tier": "smb"}, rest_reps[0]),
        ({"city": "宁波"}, city_reps[0]),
        ({"city": "温州"}, rest_reps[0]),
        ({"product_interest": "ERP"}, product_reps[0]),
        ({"product_interest": "CRM"}, rest_reps[0]),
    ]
    for i, (fields, rep) in enumerate(cases):
        lead = await _capture(s, f"1381234{i:04d}", **fields)
        assert lead.assignee_id == rep, fields


async def test_the_account_owner_gets_the_customers_next_lead(runtime, customers) -> None:
    s = LeadServicer(runtime)
    east, reps = await _team(s, "East", 2)
    await _publish(s, _rule("rest", 100, east))
    customers.update({"+8613812340001": "cust-1", "+8613812340002": "cust-1"})
    first = await _capture(s, "13812340001")
    second = await _capture(s, "13812340002")
    stranger = await _capture(s, "13812340003")
    assert first.customer_id == second.customer_id == "cust-1"
    assert second.assignee_id == first.assignee_id  # round-robin alone would have given the other rep
    assert stranger.assignee_id == next(r for r in reps if r != first.assignee_id)
    decision = (await s.ExplainRouting(lead_pb2.ExplainRoutingRequest(lead_id=second.id), None)).decisions[0]
    assert (decision.rule_name, decision.strategy, decision.chosen_rep_id) == (
        "account_owner",
        "account_owner",
        first.assignee_id,
    )


async def test_has_owner_routes_a_returning_customer_whose_owner_is_away(runtime, customers) -> None:
    s = LeadServicer(runtime)
    desk, desk_reps = await _team(s, "Returning", 1)
    rest, rest_reps = await _team(s, "Inside", 1)
    await _publish(s, _rule("returning", 10, desk, conditions={"has_owner": ["true"]}), _rule("rest", 100, rest))
    customers.update({"+8613812340001": "cust-1", "+8613812340002": "cust-1"})
    first = await _capture(s, "13812340001")
    assert first.assignee_id == rest_reps[0]  # no owner yet: the has_owner rule does not match
    await s.UpdateRep(lead_pb2.UpdateRepRequest(rep_id=rest_reps[0], on_leave=True), None)
    second = await _capture(s, "13812340002")
    assert second.assignee_id == desk_reps[0]


async def test_dry_run_judges_eligibility_at_each_leads_capture_time(runtime) -> None:
    s = LeadServicer(runtime)
    east, reps = await _team(s, "East", 1)
    await _publish(s, _rule("rest", 100, east))
    lead = await _capture(s, "13812345678")
    today = datetime.now(SHANGHAI).date()
    captured_at = datetime.combine(today - timedelta(days=2), time(12, 0), SHANGHAI)
    async with runtime.db.transaction() as conn:
        await conn.execute(update(leads).where(leads.c.id == lead.id).values(captured_at=captured_at))
    # The team works every day around the clock except today: now it is closed, two days ago it was open.
    calendar = lead_pb2.WorkCalendar(
        timezone="Asia/Shanghai", workdays=range(1, 8), start="00:00", end="23:59", holidays=[today.isoformat()]
    )
    await s.UpdateTeam(lead_pb2.UpdateTeamRequest(team_id=east, calendar=calendar), None)
    replay = await s.DryRunRouting(lead_pb2.DryRunRoutingRequest(rules=[_rule("all", 1, east)], days=7), None)
    assert [(o.lead_id, o.rep_id) for o in replay.outcomes] == [(lead.id, reps[0])]
    posted = await s.DryRunRouting(
        lead_pb2.DryRunRoutingRequest(rules=[_rule("all", 1, east)], leads=[lead_pb2.LeadInput(phone="13812345679")]),
        None,
    )
    assert (posted.outcomes[0].rep_id, posted.outcomes[0].to_pool) == ("", False)  # a posted lead is judged now


async def test_dry_run_uses_the_customers_owner_and_has_owner(runtime, customers) -> None:
    s = LeadServicer(runtime)
    east, _ = await _team(s, "East", 2)
    desk, desk_reps = await _team(s, "Returning", 1)
    await _publish(s, _rule("rest", 100, east))
    customers.update({"+8613812340001": "cust-1", "+8613812340002": "cust-1"})
    first = await _capture(s, "13812340001")
    second = await _capture(s, "13812340002")
    owner = first.assignee_id
    assert second.assignee_id == owner
    draft = [_rule("returning", 10, desk, conditions={"has_owner": ["true"]}), _rule("rest", 100, east)]

    replay = await s.DryRunRouting(lead_pb2.DryRunRoutingRequest(rules=draft, days=1), None)
    outcome = next(o for o in replay.outcomes if o.lead_id == second.id)
    assert (outcome.rule_name, outcome.rep_id) == ("account_owner", owner)
    # The first lead had no owner when it was captured (the second came later), so no rule for returning customers.
    outcome = next(o for o in replay.outcomes if o.lead_id == first.id)
    assert outcome.rule_name == "rest"

    await s.UpdateRep(lead_pb2.UpdateRepRequest(rep_id=owner, on_leave=True), None)
    replay = await s.DryRunRouting(lead_pb2.DryRunRoutingRequest(rules=draft, days=1), None)
    outcome = next(o for o in replay.outcomes if o.lead_id == second.id)
    assert (outcome.rule_name, outcome.rep_id) == ("returning", desk_reps[0])


async def test_publishing_refuses_a_rule_that_sends_a_team_leads_from_outside_its_territories(runtime) -> None:
    s = LeadServicer(runtime)
    zhejiang, _ = await _team(s, "Zhejiang", 1)
    national, _ = await _team(s, "National", 1)
    await s.UpdateTeam(
        lead_pb2.UpdateTeamRequest(team_id=zhejiang, territories=["浙江"], replace_territories=True), None
    )
    rules = [
        _rule("zhejiang", 10, zhejiang, conditions={"province": ["浙江"]}),
        _rule("rest", 100, national),
    ]
    assert await _publish(s, *rules) == 1
    too_wide = _rule("east-china", 20, zhejiang, conditions={"region": ["华东"], "channel": ["wecom"]})
    with pytest.raises(InvalidArgument) as refused:
        await _publish(s, *rules, too_wide)
    [(field, description)] = _descriptions(refused)
    assert field == "rules[east-china]" and description.startswith("territory: sends leads from 上海, ")
    assert description.endswith(f"to team {zhejiang}, whose territories cover only 浙江")
    with pytest.raises(InvalidArgument):  # one rule at a time is held to the same
        await _put(s, too_wide)
    assert (await _live(s)).version == 1

    # Nor can the team's territories shrink under a live rule: the rule changes first.
    narrower = lead_pb2.UpdateTeamRequest(team_id=zhejiang, territories=["上海"], replace_territories=True)
    with pytest.raises(InvalidArgument) as shrunk:
        await s.UpdateTeam(narrower, None)
    assert _descriptions(shrunk) == [
        (
            "territories",
            f"the live rule 'zhejiang' sends leads from 浙江 to team {zhejiang}, whose territories cover only 上海; "
            "change that rule first",
        )
    ]
    teams = (await s.ListTeams(lead_pb2.ListTeamsRequest(), None)).teams
    assert [list(t.territories) for t in teams if t.id == zhejiang] == [["浙江"]]  # nothing half written
    wider = lead_pb2.UpdateTeamRequest(team_id=zhejiang, territories=["华东"], replace_territories=True)
    assert list((await s.UpdateTeam(wider, None)).team.territories) == ["华东"]
