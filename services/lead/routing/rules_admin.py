"""Rule sets as data: proto <-> rules, validation against the live teams, publishing versions, dry runs."""

from __future__ import annotations

import dataclasses
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from crm.lead.v1 import lead_pb2
from crm_common.errors import FailedPrecondition, FieldViolation, InvalidArgument
from crm_common.service import Runtime
from lead import records
from lead.domain import score_lead, validate_lead
from lead.routing import repository as repo
from lead.routing.assignment import lead_fields, rep_state
from lead.routing.engine import (
    Problem,
    RepState,
    Rule,
    TeamState,
    calendar_from_json,
    calendar_problems,
    decide,
    rule_from_json,
    territory_problems,
    validate_rule_set,
)
from lead.staff import repository as staff_repo
from lead.timestamps import ts

__all__ = ["calendar_problems"]

STRATEGY_NAMES = {
    lead_pb2.ROUTING_STRATEGY_UNSPECIFIED: "round_robin",
    lead_pb2.ROUTING_STRATEGY_ROUND_ROBIN: "round_robin",
    lead_pb2.ROUTING_STRATEGY_LEAST_OPEN: "least_open",
    lead_pb2.ROUTING_STRATEGY_SKILLS_MATCH: "skills_match",
}
STRATEGY_ENUMS = {
    "round_robin": lead_pb2.ROUTING_STRATEGY_ROUND_ROBIN,
    "least_open": lead_pb2.ROUTING_STRATEGY_LEAST_OPEN,
    "skills_match": lead_pb2.ROUTING_STRATEGY_SKILLS_MATCH,
}
MAX_RULES = 500
MAX_DRY_RUN_LEADS = 5000


def rule_message(row: Row[Any] | Rule) -> lead_pb2.RoutingRule:
    return lead_pb2.RoutingRule(
        id=row.id,
        name=row.name,
        priority=row.priority,
        conditions={k: lead_pb2.StringList(values=sorted(v)) for k, v in row.conditions.items()},
        team_id=row.team_id or "",
        strategy=STRATEGY_ENUMS.get(row.strategy, lead_pb2.ROUTING_STRATEGY_ROUND_ROBIN),
        to_pool=row.to_pool,
        overflow_team_id=row.overflow_team_id or "",
        min_score=row.min_score,
        max_score=row.max_score,
        required_skills=sorted(row.required_skills),
    )


def rule_from_proto(rule: lead_pb2.RoutingRule) -> Rule:
    return Rule(
        id=records.parse_id(rule.id) or str(uuid.uuid4()),
        name=rule.name.strip(),
        priority=rule.priority,
        conditions={k: frozenset(v.strip() for v in vals.values) for k, vals in rule.conditions.items()},
        team_id=records.parse_id(rule.team_id) if rule.team_id else None,
        strategy=STRATEGY_NAMES.get(rule.strategy, f"unknown({rule.strategy})"),
        to_pool=rule.to_pool,
        overflow_team_id=records.parse_id(rule.overflow_team_id) if rule.overflow_team_id else None,
        min_score=rule.min_score,
        max_score=rule.max_score,
        required_skills=frozenset(s.strip() for s in rule.required_skills if s.strip()),
    )


async def put_rule(runtime: Runtime, rule: lead_pb2.RoutingRule, by: str) -> Rule:
    """Replace one rule of the live set (the one with its id, else its name) or add it, and publish the result.

    The resulting set is validated exactly as publish validates a whole set.
    """
    edited = rule_from_proto(rule)
    async with runtime.db.transaction() as conn:
        await records.lock_key(conn, key="lead-rules")
        current = [_row_rule(r) for r in await repo.list_rules(conn)]
        replaced = next((r for r in current if r.id == edited.id), None) or next(
            (r for r in current if r.name == edited.name), None
        )
        if replaced is not None:
            edited = dataclasses.replace(edited, id=replaced.id)
        rules = [r for r in current if r is not replaced] + [edited]
        await _publish_locked(conn, rules, 0, by)
    return edited


def _row_rule(row: Row[Any]) -> Rule:
    return rule_from_json({**row._mapping, "team_id": row.team_id})


async def _world(conn: AsyncConnection) -> tuple[dict[str, TeamState], dict[str, list[RepState]]]:
    teams = {
        t.id: TeamState(
            id=t.id,
            manager_id=t.manager_id,
            calendar=calendar_from_json(t.calendar),
            territories=tuple(t.territories or ()),
        )
        for t in await staff_repo.list_teams(conn)
    }
    reps: dict[str, list[RepState]] = {}
    for row in await staff_repo.reps_with_load(conn):
        reps.setdefault(row.team_id, []).append(rep_state(row))
    return teams, reps


async def territory_conflicts(
    conn: AsyncConnection, *, team_id: str, territories: Sequence[str]
) -> list[FieldViolation]:
    """Why a team may not take these territories: live rules that would then send it leads from outside them.

    Taken under the rules lock, so a publish cannot slip a conflicting rule in meanwhile.
    """
    await records.lock_key(conn, key="lead-rules")
    rules = [r for r in (_row_rule(row) for row in await repo.list_rules(conn)) if r.team_id == team_id]
    team = TeamState(id=team_id, territories=tuple(territories))
    return [
        FieldViolation("territories", f"the live rule {p.rule!r} {p.message}; change that rule first")
        for p in territory_problems(rules, {team_id: team})
    ]


def _problem_message(p: Problem) -> lead_pb2.RuleProblem:
    return lead_pb2.RuleProblem(rule=p.rule, kind=p.kind, message=p.message)


# Pairwise checks find up to n² problems (500 rules at one priority: 125,000); past this many an answer only
# grows too large to send within the deadline, and says nothing the first ones do not.
MAX_PROBLEMS = 500


async def _problems(conn: AsyncConnection, rules: list[Rule]) -> list[Problem]:
    teams, reps = await _world(conn)
    problems = [Problem(r.name or "?", "invalid", "name is required") for r in rules if not r.name]
    return (problems + validate_rule_set(rules, teams, reps))[:MAX_PROBLEMS]


async def validate(conn: AsyncConnection, rules: list[lead_pb2.RoutingRule]) -> list[lead_pb2.RuleProblem]:
    return [_problem_message(p) for p in await _problems(conn, [rule_from_proto(r) for r in rules])]


async def publish(
    runtime: Runtime, rules: list[lead_pb2.RoutingRule], expected_version: int, by: str
) -> tuple[int, list[Rule]]:
    """Validate the whole set and make it the live version; every problem is reported at once."""
    async with runtime.db.transaction() as conn:
        await records.lock_key(conn, key="lead-rules")
        return await _publish_locked(conn, [rule_from_proto(r) for r in rules], expected_version, by)


async def _publish_locked(
    conn: AsyncConnection, rules: list[Rule], expected_version: int, by: str
) -> tuple[int, list[Rule]]:
    """Publish under the rules lock: refuse the set with every problem, or store it as the next version."""
    if len(rules) > MAX_RULES:
        raise InvalidArgument([FieldViolation("rules", f"at most {MAX_RULES} rules")])
    problems = await _problems(conn, rules)
    if problems:
        raise InvalidArgument([FieldViolation(f"rules[{p.rule}]", f"{p.kind}: {p.message}") for p in problems])
    current = await repo.live_version(conn)
    if expected_version and expected_version != current:
        raise FailedPrecondition(f"the live rule set is version {current}, not {expected_version}")
    parsed = sorted(rules, key=lambda r: (r.priority, r.name))
    stored = [r.as_json() for r in parsed]
    now = datetime.now(UTC)
    await repo.replace_rules(conn, rules=stored, at=now)
    await repo.insert_rule_version(conn, version=current + 1, rules=stored, at=now, by=by)
    return current + 1, parsed


async def dry_run(runtime: Runtime, request: lead_pb2.DryRunRoutingRequest) -> lead_pb2.DryRunRoutingResponse:
    """Route leads through a draft set on a copy of today's load; nothing is stored.

    A replayed lead is judged as capture judged it: eligibility at its capture time, its customer's owner first.
    """
    rules = sorted((rule_from_proto(r) for r in request.rules), key=lambda r: (r.priority, r.name))
    now = datetime.now(UTC)
    settings = runtime.settings
    async with runtime.db.connect() as conn:
        teams, reps = await _world(conn)
        by_id = {rep.id: rep for team in reps.values() for rep in team}
        problems = validate_rule_set(rules, teams, reps)
        samples: list[tuple[str, dict[str, str], int, str, datetime, RepState | None]] = []
        if request.leads:
            for i, data in enumerate(list(request.leads)[:MAX_DRY_RUN_LEADS]):
                try:
                    lead = validate_lead(data, region=settings.default_region)
                except InvalidArgument as err:
                    why = "; ".join(f"{v.field}: {v.description}" for v in err.violations)
                    samples.append((f"posted[{i}]", {}, -1, why, now, None))
                    continue
                score = round(sum(score_lead(lead, settings.channel_weights, settings.default_channel_weight).values()))
                samples.append((f"posted[{i}]", lead.routing_fields(None), score, "", now, None))
        else:
            since = now - timedelta(days=request.days or 7)
            for row in await repo.leads_since(conn, since=since, limit=MAX_DRY_RUN_LEADS):
                owner_id = None
                if row.customer_id:  # the lookup capture makes: the assignee of the customer's most recent lead
                    found = await repo.routing_context(
                        conn, customer_id=row.customer_id, exclude_lead=row.id, before=row.captured_at
                    )
                    owner_id = found.owner_id
                fields = lead_fields(row, has_owner=owner_id is not None)
                owner = by_id.get(owner_id) if owner_id else None
                samples.append((row.id, fields, row.score, row.assignee_id or "", row.captured_at, owner))
    load: Counter[str] = Counter()
    outcomes = []
    for lead_id, fields, score, note, at, owner in samples:
        if score < 0:
            outcomes.append(lead_pb2.DryRunOutcome(lead_id=lead_id, explanation=f"invalid: {note}"))
            continue
        decision = decide(rules, fields, score, reps, teams, at, owner=owner)
        if decision.rep_id:
            load[decision.rep_id] += 1
            rep = by_id[decision.rep_id]  # the draft's own load spreads later leads
            rep.open_leads += 1
            if decision.strategy != "account_owner":
                rep.served = (rep.served or 0) + 1
        outcomes.append(
            lead_pb2.DryRunOutcome(
                lead_id=lead_id,
                rule_name=decision.rule_name,
                team_id=decision.team_id or "",
                rep_id=decision.rep_id or "",
                to_pool=decision.to_pool,
                explanation=decision.explanation,
                current_rep_id=note if not request.leads else "",
            )
        )
    return lead_pb2.DryRunRoutingResponse(
        outcomes=outcomes, load_per_rep=dict(load), problems=[_problem_message(p) for p in problems]
    )


def decision_message(row: Row[Any]) -> lead_pb2.RoutingDecision:
    return lead_pb2.RoutingDecision(
        at=ts(row.at),
        trigger=row.trigger,
        rule_id=row.rule_id,
        rule_name=row.rule_name,
        rule_version=row.rule_version,
        strategy=row.strategy,
        team_id=row.team_id,
        chosen_rep_id=row.chosen_rep_id,
        eligible_rep_ids=row.eligible,
        ineligible=[lead_pb2.IneligibleRep(rep_id=k, reason=v) for k, v in row.ineligible.items()],
        explanation=row.explanation,
        to_pool=row.to_pool,
    )
