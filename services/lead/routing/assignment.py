"""Routing inside a transaction: load the live rules and reps, decide, record the decision, move the lead."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from crm.events.v1 import lead_events_pb2
from crm_common.bus.outbox import riding_events
from crm_common.metrics import LEAD_POOL_RETURNS, LEAD_REROUTES, LEAD_ROUTING_DURATION
from crm_common.service import Runtime
from lead import records
from lead.domain import CleanLead
from lead.ownership import repository as ownership_repo
from lead.routing import repository as repo
from lead.routing.engine import (
    Calendar,
    Decision,
    RepState,
    Rule,
    TeamState,
    calendar_from_json,
    decide,
    first_match,
    rule_from_json,
)
from lead.staff import repository as staff_repo
from lead.timestamps import ts

_RULES: dict[tuple[str, int], list[Rule]] = {}
_CALENDARS: dict[str, Calendar | None] = {}
# Label values of crm_lead_reroutes_total (a manual move's free-text reason goes into the event only).
REROUTE_REASONS = frozenset({"claim_expired", "rep_deactivated", "handover", "manual"})
# Triggers that route a lead nobody owned yet, so the customer's existing owner comes first.
FIRST_ROUTING = frozenset({"capture", "sweep"})


async def load_rules(conn: AsyncConnection, db_key: str, version: int | None = None) -> tuple[int, list[Rule]]:
    """The live rule set, parsed once per version and process (pass the live version if it was read already)."""
    if version is None:
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
    rows = await staff_repo.get_teams(conn, team_ids=team_ids) if team_ids else []
    return {r.id: TeamState(id=r.id, manager_id=r.manager_id, calendar=_calendar(r.calendar)) for r in rows}


def _calendar(data: dict[str, Any] | None) -> Calendar | None:
    """A team's calendar, parsed once per distinct JSON and process (routing reads it on every decision)."""
    if not data:
        return None
    key = json.dumps(data, sort_keys=True)
    cached = _CALENDARS.get(key)
    if cached is None:
        if len(_CALENDARS) > 1000:
            _CALENDARS.clear()
        cached = _CALENDARS[key] = calendar_from_json(data)
    return cached


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
    rep = await staff_repo.get_rep(conn, rep_id=rep_id) if rep_id else None
    team = await staff_repo.get_team(conn, team_id=rep.team_id) if rep else None
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
    decision, _ = await route(
        runtime,
        conn,
        row,
        now,
        trigger=trigger,
        excluded=excluded,
        from_rep=from_rep,
        pool_when_unplaced=pool_when_unplaced,
        record_unplaced=record_unplaced,
    )
    return decision


async def route(
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
    context: tuple[int, str | None] | None = None,
) -> tuple[Decision, Row[Any] | None]:
    """route_lead, also giving the lead row as assigned (None unless a rep got it).

    context is (live rule version, account owner) when the caller read both in an earlier statement of this
    transaction (capture does, with its duplicate check); otherwise they are read here.
    """
    if context is None:
        customer_id = row.customer_id if trigger in FIRST_ROUTING else None
        found = await repo.routing_context(conn, customer_id=customer_id, exclude_lead=row.id)
        context = (found.version, found.owner_id)
    version, owner_id = context
    version, rules = await load_rules(conn, runtime.settings.database_url, version)
    if not (row.customer_id and trigger in FIRST_ROUTING):
        owner_id = None
    fields = lead_fields(row, has_owner=owner_id is not None)
    rule = first_match(rules, fields, row.score)
    team_ids = [t for t in ((rule.team_id, rule.overflow_team_id) if rule else ()) if t]
    # A lead being captured has no history, so nobody can be cooling down on it (read before any team is held).
    cooling = await ownership_repo.cooldowns(conn, lead_id=row.id, now=now) if trigger != "capture" else {}
    # The team locks serialise rotation and capacity per team across replicas (taken in one global order), and
    # the reps are read under them in the same round trip. Everything from here to commit holds the team: as few
    # round trips as possible (the assignment, with its event, then the commit).
    rows = await repo.routing_reps(
        conn, lock=[f"lead-team:{t}" for t in team_ids], team_ids=team_ids, owner_id=owner_id
    )
    teams = {
        r.team_id: TeamState(id=r.team_id, manager_id=r.team_manager_id, calendar=_calendar(r.team_calendar))
        for r in rows
    }
    reps_by_team: dict[str, list[RepState]] = {}
    for rep_row in rows:
        if rep_row.team_id in team_ids:
            reps_by_team.setdefault(rep_row.team_id, []).append(rep_state(rep_row))
    owner = next((rep_state(r) for r in rows if r.id == owner_id), None)
    started = time.perf_counter()
    decision = decide(
        rules, fields, row.score, reps_by_team, teams, now, excluded=excluded, owner=owner, cooling=cooling
    )
    LEAD_ROUTING_DURATION.observe(time.perf_counter() - started)
    gone: set[str] = set()
    while decision.rep_id is not None:
        assigned = await give_to(
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
            decision=_decision_values(decision, trigger, version, row.id, now),
            served=_served(decision, reps_by_team),
        )
        if assigned is not None:
            return decision, assigned
        # Deactivated since we read it (a concurrent departure): decide again without that rep.
        gone.add(decision.rep_id)
        for rep in (*(r for team in reps_by_team.values() for r in team), *([owner] if owner else [])):
            if rep.id in gone:
                rep.active = False
        decision = decide(
            rules, fields, row.score, reps_by_team, teams, now, excluded=excluded, owner=owner, cooling=cooling
        )
    if decision.waits_for_opening and row.assignee_id is not None:
        # Taken from its rep after closing (a lapse, a departure): it waits unassigned, like a lead captured at
        # night, and the sweeper routes it when a team opens.
        await ownership_repo.set_waiting(conn, lead_id=row.id)
        await records.add_timeline(conn, lead_id=row.id, step="waiting", at=now, detail="outside working hours")
    elif pool_when_unplaced and not decision.waits_for_opening:
        decision.to_pool = True
        decision.explanation += "; nobody else can take it, so it goes to the public pool"
    if not decision.to_pool and not record_unplaced:
        return decision, None  # a waiting lead retried by the sweeper: the first 'nobody eligible' is on record
    await repo.insert_decision(conn, **_decision_values(decision, trigger, version, row.id, now))
    if decision.to_pool:
        await to_pool(runtime, conn, row, now, reason="no_eligible_rep" if from_rep else "rule", from_rep=from_rep)
    return decision, None


def _decision_values(decision: Decision, trigger: str, version: int, lead_id: str, now: datetime) -> dict[str, Any]:
    """The routing_decisions row that explains a decision."""
    return {
        "lead_id": lead_id,
        "at": now,
        "trigger": trigger,
        "rule_id": decision.rule.id if decision.rule else "",
        "rule_name": decision.rule_name,
        "rule_version": version,
        "strategy": decision.strategy,
        "team_id": decision.team_id or "",
        "chosen_rep_id": decision.rep_id or "",
        "to_pool": decision.to_pool,
        "eligible": decision.eligible,
        "ineligible": decision.ineligible,
        "explanation": decision.explanation,
    }


def _served(decision: Decision, reps_by_team: dict[str, list[RepState]]) -> tuple[str, int] | None:
    """(team, start) of the rotation count the decision moves on; None for the account owner (no rotation)."""
    if decision.strategy == "account_owner":
        return None
    served = [r.served for r in reps_by_team.get(decision.team_id or "", ()) if r.id == decision.rep_id]
    return decision.team_id or "", served[0] if served and served[0] is not None else 0


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
    decision: dict[str, Any] | None = None,
    served: tuple[str, int] | None = None,
) -> Row[Any] | None:
    """Make a rep the lead's one owner: the assignment, its claim clock, the timeline and the events.

    With a routing decision (its row, and the rotation count it moves on), the rep's row is share-locked and
    nothing happens unless the rep is still active; returns the lead as assigned, None when the rep was gone.
    """
    reassigned = from_rep is not None and from_rep != rep_id
    entries = []
    if reassigned:
        entries.append(records.Step("reassigned", now, f"{from_rep} -> {rep_id}"))
    entries.append(records.Step("assigned", now, rep_id))
    announced = lead_events_pb2.LeadAssigned(
        lead_id=row.id,
        assignee_id=rep_id,
        team_id=team_id or "",
        rule_id=rule_id or "",
        captured_at=ts(row.captured_at),
        assigned_at=ts(now),
        lead_name=row.name,
        company=row.company,
        channel=row.channel,
    )
    # The event rides on the assignment's own statement (no round trip while the team is held), unless a
    # reassignment is announced first (its manager is looked up after the assignment).
    riding = None if reassigned else riding_events(conn, runtime.definition.outbox, [("crm.lead.assigned", announced)])
    assigned = await ownership_repo.assign_lead(
        conn,
        lead_id=row.id,
        rep_id=rep_id,
        team_id=team_id,
        rule_id=rule_id,
        at=now,
        claim_deadline=claim_deadline(runtime, team, now),
        steps=entries,
        decision=decision,
        served=served,
        hold_rep=decision is not None,
        events=riding,
    )
    if assigned is None:
        return None
    if reassigned:
        manager_id = await manager_of(conn, from_rep)
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
        await runtime.stage(conn, "crm.lead.assigned", announced)
    return assigned


async def to_pool(
    runtime: Runtime, conn: AsyncConnection, row: Row[Any], now: datetime, *, reason: str, from_rep: str | None
) -> None:
    """Put the lead in the public pool with nobody owning it."""
    await ownership_repo.set_pooled(conn, lead_id=row.id, at=now, lapsed=list(row.lapsed_rep_ids or []))
    await records.add_timeline(conn, lead_id=row.id, step="returned_to_pool", at=now, detail=reason)
    await runtime.stage(
        conn,
        "crm.lead.returned_to_pool",
        lead_events_pb2.LeadReturnedToPool(lead_id=row.id, rep_id=from_rep or "", reason=reason, at=ts(now)),
    )
    LEAD_POOL_RETURNS.inc()
