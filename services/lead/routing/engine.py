"""The routing engine as plain functions: rule sets, eligibility, calendars, strategies and their explanation."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from crm_common.calendar import Calendar, calendar_from_json
from lead.domain import CONDITION_FIELDS, PROVINCES, canonical_province, provinces_of, region_names

# CONDITION_FIELDS lives in lead.domain, next to the fields a lead gives routing; has_owner is "true"/"false".
BOOLEAN_VALUES = frozenset({"true", "false"})
STRATEGIES = ("round_robin", "least_open", "skills_match")
ACCOUNT_OWNER_RULE = "account_owner"


@dataclass(frozen=True)
class Rule:
    """One routing rule: conditions and score range, then a target team (or the pool) and a strategy."""

    id: str
    name: str
    priority: int
    conditions: Mapping[str, frozenset[str]]
    team_id: str | None
    strategy: str = "round_robin"
    to_pool: bool = False
    overflow_team_id: str | None = None
    min_score: int = 0
    max_score: int = 0
    required_skills: frozenset[str] = frozenset()

    def matches(self, fields: Mapping[str, str], score: int) -> bool:
        """Every condition holds and the score is within range."""
        if self.min_score and score < self.min_score:
            return False
        if self.max_score and score > self.max_score:
            return False
        return all(fields.get(name, "") in values for name, values in self.conditions.items())

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "priority": self.priority,
            "conditions": {k: sorted(v) for k, v in self.conditions.items()},
            "team_id": self.team_id,
            "strategy": self.strategy,
            "to_pool": self.to_pool,
            "overflow_team_id": self.overflow_team_id,
            "min_score": self.min_score,
            "max_score": self.max_score,
            "required_skills": sorted(self.required_skills),
        }


def rule_from_json(data: Mapping[str, Any]) -> Rule:
    return Rule(
        id=data["id"],
        name=data["name"],
        priority=int(data["priority"]),
        conditions={k: frozenset(v) for k, v in (data.get("conditions") or {}).items()},
        team_id=data.get("team_id"),
        strategy=data.get("strategy") or "round_robin",
        to_pool=bool(data.get("to_pool")),
        overflow_team_id=data.get("overflow_team_id"),
        min_score=int(data.get("min_score") or 0),
        max_score=int(data.get("max_score") or 0),
        required_skills=frozenset(data.get("required_skills") or ()),
    )


def calendar_problems(data: Mapping[str, Any]) -> list[str]:
    """What is wrong with a calendar as posted (empty: fine)."""
    problems = []
    try:
        ZoneInfo(data.get("timezone") or "Asia/Shanghai")
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(f"unknown time zone {data.get('timezone')!r}")
    if any(not 1 <= int(d) <= 7 for d in data.get("workdays") or ()):
        problems.append("workdays are ISO weekdays 1 (Monday) to 7 (Sunday)")
    try:
        cal = calendar_from_json(data)
        if cal is not None and cal.start >= cal.end:
            problems.append("start must be before end")
    except ValueError as err:
        problems.append(f"bad time or date: {err}")
    return problems


@dataclass
class RepState:
    """What routing needs to know about a rep at decision time."""

    id: str
    team_id: str
    active: bool = True
    on_leave: bool = False
    leave_until: datetime | None = None
    capacity: int = 50
    open_leads: int = 0
    weight: int = 1
    skills: frozenset[str] = frozenset()
    served: int | None = None


@dataclass
class TeamState:
    id: str
    manager_id: str = ""
    calendar: Calendar | None = None
    territories: tuple[str, ...] = ()


@dataclass
class Decision:
    """The outcome of routing one lead, with everything needed to explain it."""

    rule: Rule | None = None
    team_id: str | None = None
    rep_id: str | None = None
    to_pool: bool = False
    # Nobody is eligible only because their teams are closed: the lead waits for the next opening.
    waits_for_opening: bool = False
    strategy: str = ""
    eligible: list[str] = field(default_factory=list)
    ineligible: dict[str, str] = field(default_factory=dict)
    explanation: str = ""

    @property
    def rule_name(self) -> str:
        return self.rule.name if self.rule else ""


def why_ineligible(
    rep: RepState,
    team: TeamState | None,
    now: datetime,
    excluded: Iterable[str],
    required: frozenset[str],
    cooling: Mapping[str, datetime] | None = None,
) -> str | None:
    """Why a rep may not receive a lead now (None: eligible); `cooling` maps reps to the end of their cool-down."""
    if not rep.active:
        return "inactive"
    if rep.on_leave and (rep.leave_until is None or rep.leave_until > now):
        return "on leave" + (f" until {rep.leave_until.isoformat()}" if rep.leave_until else "")
    if rep.id in excluded:
        return "claim window already lapsed with this rep"
    if cooling and rep.id in cooling and cooling[rep.id] > now:
        return f"cooling down: lost this lead to the pool, may have it again after {cooling[rep.id].isoformat()}"
    if team is not None and team.calendar is not None and not team.calendar.is_open(now):
        return "outside working hours"
    if rep.open_leads >= rep.capacity:
        return f"at capacity ({rep.open_leads}/{rep.capacity} open leads)"
    missing = required - rep.skills
    if missing:
        return "lacks skill " + ", ".join(sorted(missing))
    return None


def pick(strategy: str, eligible: Sequence[RepState]) -> RepState:
    """Choose among eligible reps. Weighted round-robin: fewest leads served per unit of weight."""
    if strategy == "round_robin":
        return min(eligible, key=lambda r: ((r.served or 0) / max(r.weight, 1), r.served or 0, r.id))
    return min(eligible, key=lambda r: (r.open_leads, r.served or 0, r.id))


def choose_in_team(
    rule: Rule,
    team_id: str,
    reps: Sequence[RepState],
    team: TeamState | None,
    now: datetime,
    excluded: frozenset[str],
    decision: Decision,
    cooling: Mapping[str, datetime] | None = None,
) -> RepState | None:
    """Record eligibility of a team's reps on the decision and pick one by the rule's strategy."""
    required = rule.required_skills if rule.strategy == "skills_match" else frozenset()
    eligible = []
    for rep in reps:
        reason = why_ineligible(rep, team, now, excluded, required, cooling)
        if reason is None:
            eligible.append(rep)
            decision.eligible.append(rep.id)
        else:
            decision.ineligible[rep.id] = reason
    if not eligible:
        return None
    known = [r.served for r in eligible if r.served is not None]
    floor = max(min(known) - 1, 0) if known else 0
    for rep in eligible:  # a newcomer starts just below the others: next in turn, but not every lead
        if rep.served is None:
            rep.served = floor
    return pick(rule.strategy, eligible)


def first_match(rules: Sequence[Rule], fields: Mapping[str, str], score: int) -> Rule | None:
    for rule in rules:
        if rule.matches(fields, score):
            return rule
    return None


def decide(
    rules: Sequence[Rule],
    fields: Mapping[str, str],
    score: int,
    reps_by_team: Mapping[str, Sequence[RepState]],
    teams: Mapping[str, TeamState],
    now: datetime,
    *,
    excluded: frozenset[str] = frozenset(),
    owner: RepState | None = None,
    cooling: Mapping[str, datetime] | None = None,
) -> Decision:
    """Route one lead: the account owner first, then the first matching rule's team, its overflow, or the pool.

    `cooling` maps reps to the end of their cool-down on this lead (it came back to the pool from them).
    """
    decision = Decision()
    if owner is not None:
        reason = why_ineligible(owner, teams.get(owner.team_id), now, excluded, frozenset(), cooling)
        if reason is None:
            decision.rule = Rule(id="", name=ACCOUNT_OWNER_RULE, priority=0, conditions={}, team_id=owner.team_id)
            decision.team_id, decision.rep_id, decision.strategy = owner.team_id, owner.id, "account_owner"
            decision.eligible.append(owner.id)
            decision.explanation = "the customer already has an owner, who is eligible"
            return decision
        decision.ineligible[owner.id] = f"account owner but {reason}"
    rule = first_match(rules, fields, score)
    if rule is None:
        decision.explanation = "no rule matches this lead"
        return decision
    decision.rule, decision.strategy = rule, rule.strategy
    if rule.to_pool:
        decision.to_pool = True
        decision.explanation = f"rule {rule.name!r} sends matching leads to the public pool"
        return decision
    for team_id, role in ((rule.team_id, "team"), (rule.overflow_team_id, "overflow team")):
        if not team_id:
            continue
        chosen = choose_in_team(
            rule, team_id, reps_by_team.get(team_id, ()), teams.get(team_id), now, excluded, decision, cooling
        )
        if chosen is not None:
            decision.team_id, decision.rep_id = team_id, chosen.id
            decision.explanation = (
                f"rule {rule.name!r} matched; {rule.strategy} picked {chosen.id} in the {role} "
                f"among {len(decision.eligible)} eligible rep(s)"
            )
            return decision
    if _eligible_when_open(rule, reps_by_team, now, excluded, cooling, decision):
        # Closed, not short of people: the same wait with or without an overflow team, at capture or at a lapse.
        decision.waits_for_opening = True
        teams_named = "its team and overflow team are" if rule.overflow_team_id else "its team is"
        decision.explanation = (
            f"rule {rule.name!r} matched but {teams_named} outside working hours; the lead waits for the next opening"
        )
    elif rule.overflow_team_id:
        decision.to_pool = True
        decision.explanation = f"rule {rule.name!r} matched but nobody in its team or overflow team is eligible"
    else:
        decision.explanation = f"rule {rule.name!r} matched but nobody in its team is eligible; the lead waits"
    return decision


def _eligible_when_open(
    rule: Rule,
    reps_by_team: Mapping[str, Sequence[RepState]],
    now: datetime,
    excluded: frozenset[str],
    cooling: Mapping[str, datetime] | None,
    decision: Decision,
) -> bool:
    """Some rep of the rule's teams is kept out only by working hours (eligible once the team opens)."""
    required = rule.required_skills if rule.strategy == "skills_match" else frozenset()
    return any(
        decision.ineligible.get(rep.id) == "outside working hours"
        and why_ineligible(rep, None, now, excluded, required, cooling) is None
        for team_id in (rule.team_id, rule.overflow_team_id)
        if team_id
        for rep in reps_by_team.get(team_id, ())
    )


@dataclass(frozen=True)
class Problem:
    rule: str
    kind: str
    message: str


def _place_conditions(rule: Rule) -> Mapping[str, frozenset[str]]:
    """A rule's conditions with region and province folded into one province set, so they compare."""
    if "region" not in rule.conditions and "province" not in rule.conditions:
        return rule.conditions
    conditions = {k: v for k, v in rule.conditions.items() if k not in ("region", "province")}
    provinces: frozenset[str] | None = None
    if "region" in rule.conditions:
        provinces = frozenset().union(*(provinces_of(r) for r in rule.conditions["region"]))
    if "province" in rule.conditions:
        named = frozenset(canonical_province(p) for p in rule.conditions["province"])
        provinces = named if provinces is None else provinces & named
    conditions["province"] = provinces or frozenset()
    return conditions


def _overlap(a: Rule, b: Rule) -> bool:
    """Could one lead satisfy both rules' conditions and score ranges?"""
    a_conditions, b_conditions = _place_conditions(a), _place_conditions(b)
    for name in set(a_conditions) & set(b_conditions):
        if not a_conditions[name] & b_conditions[name]:
            return False
    lo = max(a.min_score, b.min_score)
    hi_a = a.max_score or 10**9
    hi_b = b.max_score or 10**9
    return lo <= min(hi_a, hi_b)


def _covers(wide: Rule, narrow: Rule) -> bool:
    """Every lead `narrow` matches is matched by `wide` too."""
    wide_conditions, narrow_conditions = _place_conditions(wide), _place_conditions(narrow)
    for name, values in wide_conditions.items():
        if name not in narrow_conditions or not narrow_conditions[name] <= values:
            return False
    if wide.min_score and narrow.min_score < wide.min_score:
        return False
    return not (wide.max_score and (not narrow.max_score or narrow.max_score > wide.max_score))


def validate_rule_set(
    rules: Sequence[Rule], teams: Mapping[str, TeamState], reps_by_team: Mapping[str, Sequence[RepState]]
) -> list[Problem]:
    """Why a rule set cannot be published: bad fields, overlaps, unreachable rules, empty targets, cycles."""
    problems: list[Problem] = []
    names = [r.name for r in rules]
    for name in {n for n in names if names.count(n) > 1}:
        problems.append(Problem(name, "invalid", "two rules have the same name"))
    for rule in rules:
        for name, values in rule.conditions.items():
            if name not in CONDITION_FIELDS:
                problems.append(
                    Problem(rule.name, "invalid", f"unknown field {name!r}; use {', '.join(CONDITION_FIELDS)}")
                )
            elif not values:
                problems.append(Problem(rule.name, "unreachable", f"condition on {name!r} lists no values"))
            elif name == "region" and values - region_names():
                unknown = ", ".join(sorted(values - region_names()))
                known = ", ".join(sorted(region_names()))
                problems.append(Problem(rule.name, "unreachable", f"region {unknown} is not configured; use {known}"))
            elif name == "has_owner" and values - BOOLEAN_VALUES:
                bad = ", ".join(repr(v) for v in sorted(values - BOOLEAN_VALUES))
                problems.append(
                    Problem(rule.name, "invalid", f"condition on 'has_owner' takes 'true' or 'false', not {bad}")
                )
        if rule.strategy not in STRATEGIES:
            problems.append(Problem(rule.name, "invalid", f"unknown strategy {rule.strategy!r}"))
        if rule.min_score and rule.max_score and rule.min_score > rule.max_score:
            problems.append(Problem(rule.name, "unreachable", "min_score is above max_score"))
        if not rule.to_pool:
            if not rule.team_id:
                problems.append(Problem(rule.name, "invalid", "needs a team_id or to_pool"))
            for team_id in (rule.team_id, rule.overflow_team_id):
                if team_id and team_id not in teams:
                    problems.append(Problem(rule.name, "invalid", f"team {team_id} does not exist"))
            targets = [t for t in (rule.team_id, rule.overflow_team_id) if t in teams]
            required = rule.required_skills if rule.strategy == "skills_match" else frozenset()
            if targets and not any(
                r.active and required <= r.skills and r.capacity > 0 for t in targets for r in reps_by_team.get(t, ())
            ):
                problems.append(
                    Problem(rule.name, "no_eligible_rep", "no active rep with capacity (and the skills) in its target")
                )
        if rule.overflow_team_id and rule.overflow_team_id == rule.team_id:
            problems.append(Problem(rule.name, "cycle", "overflows into its own team"))
    ordered = sorted(rules, key=lambda r: r.priority)
    for i, rule in enumerate(ordered):
        for earlier in ordered[:i]:
            if earlier.priority == rule.priority and _overlap(earlier, rule):
                problems.append(
                    Problem(rule.name, "overlap", f"overlaps {earlier.name!r} at the same priority {rule.priority}")
                )
            elif earlier.priority < rule.priority and _covers(earlier, rule):
                problems.append(
                    Problem(rule.name, "unreachable", f"every lead it matches is taken first by {earlier.name!r}")
                )
    problems += _overflow_cycles(rules)
    problems += territory_problems(rules, teams)
    return problems


def covered_provinces(territories: Iterable[str]) -> frozenset[str] | None:
    """The provinces a team's territories cover (a region stands for its provinces); None when one of them is
    neither a province nor a region (say, a city), so coverage cannot be judged."""
    covered: set[str] = set()
    for territory in territories:
        if territory in region_names():
            covered |= provinces_of(territory)
        elif canonical_province(territory) in PROVINCES:
            covered.add(canonical_province(territory))
        else:
            return None
    return frozenset(covered)


def territory_problems(rules: Sequence[Rule], teams: Mapping[str, TeamState]) -> list[Problem]:
    """A rule must not send a team leads from provinces its territories do not cover.

    Only teams that declare territories are checked, and only a rule's own team: an overflow team is the
    fallback (often a cross-region support team). A rule's reach is its province condition, else its region
    condition's provinces (both: where they meet), else every province; a rule on cities alone is not judged.
    """
    problems = []
    for rule in rules:
        team = teams.get(rule.team_id or "") if not rule.to_pool else None
        covered = covered_provinces(team.territories) if team is not None and team.territories else None
        if covered is None:
            continue
        reach = frozenset(PROVINCES)
        if "province" in rule.conditions:
            reach &= {canonical_province(p) for p in rule.conditions["province"]}
        if "region" in rule.conditions:
            reach &= frozenset().union(*(provinces_of(r) for r in rule.conditions["region"]))
        elif "province" not in rule.conditions and "city" in rule.conditions:
            continue
        outside = reach - covered
        if outside:
            where = "every province" if reach == frozenset(PROVINCES) else ", ".join(sorted(outside))
            problems.append(
                Problem(
                    rule.name,
                    "territory",
                    f"sends leads from {where} to team {team.id}, whose territories cover only "
                    f"{', '.join(team.territories)}",
                )
            )
    return problems


def _overflow_cycles(rules: Sequence[Rule]) -> list[Problem]:
    """Overflow edges team -> team must not loop (a lead would bounce between teams forever)."""
    edges: dict[str, set[str]] = {}
    for rule in rules:
        if rule.team_id and rule.overflow_team_id and rule.team_id != rule.overflow_team_id:
            edges.setdefault(rule.team_id, set()).add(rule.overflow_team_id)
    problems = []
    for rule in rules:
        if not (rule.team_id and rule.overflow_team_id):
            continue
        seen, stack = set(), [rule.overflow_team_id]
        while stack:
            node = stack.pop()
            if node == rule.team_id:
                problems.append(Problem(rule.name, "cycle", "its overflow leads back to its own team"))
                break
            if node not in seen:
                seen.add(node)
                stack.extend(edges.get(node, ()))
    return problems
