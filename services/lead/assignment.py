"""Routing inside a transaction: load the live rules and reps, decide, record the decision, move the lead."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from crm.events.v1 import lead_events_pb2
from crm_common.metrics import LEAD_POOL_RETURNS, LEAD_REROUTES, LEAD_ROUTING_DURATION
from crm_common.service import Runtime
from lead import repository as repo
from lead.domain import CleanLead
from lead.routing import Decision, RepState, Rule, TeamState, calendar_from_json, decide, first_match, rule_from_json
from lead.timestamps import ts

_RULES: dict[tuple[str, int], list[Rule]] = {}
# Label values of crm_lead_reroutes_total (a manual move's free-text reason goes into the event only).
REROUTE_REASONS = frozenset({"claim_expired", "rep_deactivated", "handover", "manual"})
# Triggers that route a lead nobody owned yet, so the customer's existing owner comes first.
FIRST_ROUTING = frozenset({"capture", "sweep"})


async def load_rules(conn: AsyncConnection, db_key: str) -> tuple[int, list[Rule]]:
    """The live rule set, parsed once per version and process."""
    version = await repo.live_version(conn)
    cached = _RULES.get((db_key, version))
    if cached is None:
        version, data = await repo.live_rules(conn)
        cached = sorted((rule_from_json(r) for r in data), key=lambda r: (r.priority, r.name))
        _RULES[(db_key, version)] = cached
    return version, cached


def rep_state(row: Row[Any]) -> RepState:
    return RepState(
        id=row.id,
        team_id=row.team_id,
        active=row.active,
        on_leave=row.on_leave,
        leave_until=row.leave_until,
        capacity=row.capacity,
        open_leads=row.open_leads,
        weight=row.weight,
        skills=frozenset(row.skills or ()),
        served=row.served,
    )


async def team_states(conn: AsyncConnection, team_ids: list[str]) -> dict[str, TeamState]:
    rows = await repo.get_teams(conn, team_ids=team_ids) if team_ids else []
    return {r.id: TeamState(id=r.id, manager_id=r.manager_id, calendar=calendar_from_json(r.calendar)) for r in rows}


def lead_fields(row: Row[Any], *, has_owner: bool) -> dict[str, str]:
    return CleanLead(
        province=row.province,
        city=row.city,
        industry=row.industry,
        product_interest=row.product_interest,
        customer_tier=row.customer_tier,
        source={"channel": row.channel},
    ).routing_fields(row.customer_id, has_owner=has_owner)


async def manager_of(conn: AsyncConnection, rep_id: str | None) -> str:
    """The manager of a rep's team (empty when none is set)."""
    rep = await repo.get_rep(conn, rep_id=rep_id) if rep_id else None
    team = await repo.get_team(conn, team_id=rep.team_id) if rep else None
    return team.manager_id if team else ""


def claim_deadline(runtime: Runtime, team: TeamState | None, now: datetime) -> datetime:
    """The claim window counts working time of the assignee's team (around the clock without a calendar)."""
    window = timedelta(minutes=runtime.settings.claim_window_minutes)
    if team is not None and team.calendar is not None:
        return team.calendar.add_working_time(now, window)
    return now + window


async def route_lead(
    runtime: Runtime,
    conn: AsyncConnection,
    row: Row[Any],
    now: datetime,
    *,
    trigger: str,
    excluded: frozenset[str] = frozenset(),
    from_rep: str | None = None,
    pool_when_unplaced: bool = False,
    record_unplaced: bool = True,
) -> Decision:
    """Decide where a (locked) lead goes, record why, and move it there with its events."""
    version, rules = await load_rules(conn, runtime.settings.database_url)
    owner_id = None
    if row.customer_id and trigger in FIRST_ROUTING:
        owner_id = await repo.account_owner(conn, customer_id=row.customer_id, exclude_lead=row.id)
    fields = lead_fields(row, has_owner=owner_id is not None)
    rule = first_match(rules, fields, row.score)
    team_ids = [t for t in ((rule.team_id, rule.overflow_team_id) if rule else ()) if t]
    # Serialises rotation and capacity per team across replicas; lock_keys takes them in one global order.
    await repo.lock_keys(conn, keys=[f"lead-team:{t}" for t in team_ids])
    rep_rows = await repo.reps_with_load(conn, team_ids=team_ids) if team_ids else []
    owner = None
    if owner_id is not None:
        owner_rows = await repo.reps_with_load(conn, rep_ids=[owner_id])
        owner = rep_state(owner_rows[0]) if owner_rows else None
    teams = await team_states(conn, sorted({*team_ids, *([owner.team_id] if owner else [])}))
    reps_by_team: dict[str, list[RepState]] = {}
    for rep_row in rep_rows:
        reps_by_team.setdefault(rep_row.team_id, []).append(rep_state(rep_row))
    started = time.perf_counter()
    decision = decide(rules, fields, row.score, reps_by_team, teams, now, excluded=excluded, owner=owner)
    LEAD_ROUTING_DURATION.observe(time.perf_counter() - started)
    gone: set[str] = set()
    while decision.rep_id is not None and not await repo.hold_active_rep(conn, rep_id=decision.rep_id):
        # Deactivated since we read it (a concurrent departure): decide again without that rep.
        gone.add(decision.rep_id)
        for rep in (*(r for team in reps_by_team.values() for r in team), *([owner] if owner else [])):
            if rep.id in gone:
                rep.active = False
        decision = decide(rules, fields, row.score, reps_by_team, teams, now, excluded=excluded, owner=owner)
    if pool_when_unplaced and decision.rep_id is None:
        decision.to_pool = True
        decision.explanation += "; nobody else can take it, so it goes to the public pool"
    if decision.rep_id is None and not decision.to_pool and not record_unplaced:
        return decision  # a waiting lead retried by the sweeper: the first 'nobody eligible' is on record
    await repo.insert_decision(
        conn,
        lead_id=row.id,
        at=now,
        trigger=trigger,
        rule_id=decision.rule.id if decision.rule else "",
        rule_name=decision.rule_name,
        rule_version=version,
        strategy=decision.strategy,
        team_id=decision.team_id or "",
        chosen_rep_id=decision.rep_id or "",
        to_pool=decision.to_pool,
        eligible=decision.eligible,
        ineligible=decision.ineligible,
        explanation=decision.explanation,
    )
    if decision.rep_id is not None:
        if decision.strategy != "account_owner":
            served = [r.served for r in reps_by_team.get(decision.team_id or "", ()) if r.id == decision.rep_id]
            start = served[0] if served and served[0] is not None else 0
            await repo.count_served(conn, team_id=decision.team_id or "", rep_id=decision.rep_id, start=start)
        await give_to(
            runtime,
            conn,
            row,
            decision.rep_id,
            decision.team_id,
            decision.rule.id if decision.rule else None,
            now,
            teams.get(decision.team_id or ""),
            from_rep=from_rep,
            reason=trigger,
        )
    elif decision.to_pool:
        await to_pool(runtime, conn, row, now, reason="no_eligible_rep" if from_rep else "rule", from_rep=from_rep)
    return decision


async def give_to(
    runtime: Runtime,
    conn: AsyncConnection,
    row: Row[Any],
    rep_id: str,
    team_id: str | None,
    rule_id: str | None,
    now: datetime,
    team: TeamState | None,
    *,
    from_rep: str | None = None,
    reason: str = "",
) -> None:
    """Make a rep the lead's one owner: the assignment, its claim clock, the timeline and the events."""
    await repo.set_assignment(
        conn,
        lead_id=row.id,
        rep_id=rep_id,
        team_id=team_id,
        rule_id=rule_id,
        at=now,
        claim_deadline=claim_deadline(runtime, team, now),
    )
    if from_rep is not None and from_rep != rep_id:
        manager_id = await manager_of(conn, from_rep)
        await repo.add_timeline(conn, lead_id=row.id, step="reassigned", at=now, detail=f"{from_rep} -> {rep_id}")
        await runtime.stage(
            conn,
            "crm.lead.reassigned",
            lead_events_pb2.LeadReassigned(
                lead_id=row.id,
                from_rep_id=from_rep,
                to_rep_id=rep_id,
                reason=reason,
                manager_id=manager_id,
                lead_name=row.name,
                company=row.company,
                at=ts(now),
            ),
        )
        LEAD_REROUTES.labels(reason if reason in REROUTE_REASONS else "manual").inc()
    await repo.add_timeline(conn, lead_id=row.id, step="assigned", at=now, detail=rep_id)
    await runtime.stage(
        conn,
        "crm.lead.assigned",
        lead_events_pb2.LeadAssigned(
            lead_id=row.id,
            assignee_id=rep_id,
            team_id=team_id or "",
            rule_id=rule_id or "",
            captured_at=ts(row.captured_at),
            assigned_at=ts(now),
            lead_name=row.name,
            company=row.company,
            channel=row.channel,
        ),
    )


async def to_pool(
    runtime: Runtime, conn: AsyncConnection, row: Row[Any], now: datetime, *, reason: str, from_rep: str | None
) -> None:
    """Put the lead in the public pool with nobody owning it."""
    await repo.set_pooled(conn, lead_id=row.id, at=now, lapsed=list(row.lapsed_rep_ids or []))
    await repo.add_timeline(conn, lead_id=row.id, step="returned_to_pool", at=now, detail=reason)
    await runtime.stage(
        conn,
        "crm.lead.returned_to_pool",
        lead_events_pb2.LeadReturnedToPool(lead_id=row.id, rep_id=from_rep or "", reason=reason, at=ts(now)),
    )
    LEAD_POOL_RETURNS.inc()
