"""Ownership's use cases: the assignee claims and contacts a lead, a manager reassigns it, a rep claims from the pool."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from crm.events.v1 import lead_events_pb2
from crm_common.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound, PermissionDenied
from crm_common.metrics import (
    LEAD_TIME_TO_FIRST_CONTACT,
    observe_with_trace,
)
from crm_common.service import Runtime
from lead import records
from lead.ownership import repository as repo
from lead.ownership.clocks import first_contact_deadline, start_pool_clock
from lead.routing import repository as routing_repo
from lead.routing.assignment import give_to, team_states
from lead.staff import repository as staff_repo
from lead.timestamps import ts


async def _locked_lead(conn: AsyncConnection, lead_id: str) -> Row[Any]:
    canonical = records.parse_id(lead_id)
    row = await records.get_lead(conn, lead_id=canonical, for_update=True) if canonical else None
    if row is None:
        raise NotFound(f"lead {lead_id} not found")
    return row


def _require_assignee(row: Row[Any], rep_id: str) -> None:
    if not rep_id:
        raise InvalidArgument([FieldViolation("rep_id", "is required")])
    if row.assignee_id is None:
        raise FailedPrecondition(f"lead {row.id} is not assigned yet")
    if row.assignee_id != records.parse_id(rep_id):
        raise PermissionDenied(f"lead {row.id} is assigned to another rep")


async def _after_claim(
    runtime: Runtime, conn: AsyncConnection, row: Row[Any], now: datetime, *, from_pool: bool = False
) -> None:
    """After a claim the clock runs to the first-contact deadline, or the pool clock once contacted.

    A claim from the pool starts a fresh first-contact SLA: the capture's may have run out days ago.
    """
    if row.first_contact_at is not None:
        await start_pool_clock(runtime, conn, row.id, now)
        return
    due = row.contact_deadline_at
    if from_pool or due is None:
        due = first_contact_deadline(runtime, now)
    await repo.set_clock(
        conn, lead_id=row.id, kind="first_contact", due=due, last_activity_at=now, contact_deadline_at=due
    )


async def claim(runtime: Runtime, lead_id: str, rep_id: str) -> str:
    """The assignee takes the lead (a repeat claim by the same rep changes nothing)."""
    async with runtime.db.transaction() as conn:
        row = await _locked_lead(conn, lead_id)
        _require_assignee(row, rep_id)
        if row.claimed_at is not None:
            return row.id
        now = datetime.now(UTC)
        await _refuse_cooling(conn, row, row.assignee_id, now)
        await repo.set_claimed(conn, lead_id=row.id, at=now)
        await _after_claim(runtime, conn, row, now)
        await records.add_timeline(conn, lead_id=row.id, step="claimed", at=now, detail=row.assignee_id)
        await runtime.stage(
            conn,
            "crm.lead.claimed",
            lead_events_pb2.LeadClaimed(lead_id=row.id, rep_id=row.assignee_id, claimed_at=ts(now)),
        )
    return row.id


async def record_contact(runtime: Runtime, lead_id: str, rep_id: str, channel: str, summary: str) -> tuple[str, bool]:
    """Record a contact by the assignee; the first one sets first_contact_at. Returns (lead id, first)."""
    violations = []
    if not channel.strip():
        violations.append(FieldViolation("channel", "is required"))
    elif len(channel) > 50:
        violations.append(FieldViolation("channel", "must be at most 50 characters"))
    if len(summary) > 4000:
        violations.append(FieldViolation("summary", "must be at most 4000 characters"))
    if violations:
        raise InvalidArgument(violations)
    async with runtime.db.transaction() as conn:
        row = await _locked_lead(conn, lead_id)
        _require_assignee(row, rep_id)
        now = datetime.now(UTC)
        first = row.first_contact_at is None
        await repo.insert_contact(
            conn, lead_id=row.id, rep_id=row.assignee_id, channel=channel.strip(), summary=summary.strip(), at=now
        )
        if first:
            await repo.set_first_contact(conn, lead_id=row.id, at=now)
        if row.converted_at is None:
            await start_pool_clock(runtime, conn, row.id, now)  # every follow-up restarts the pool clock
        await records.add_timeline(conn, lead_id=row.id, step="contacted", at=now, detail=channel.strip())
        await runtime.stage(
            conn,
            "crm.lead.contacted",
            lead_events_pb2.LeadContacted(
                lead_id=row.id,
                rep_id=row.assignee_id,
                channel=channel.strip(),
                first_contact=first,
                customer_id=row.customer_id or "",
                captured_at=ts(row.captured_at),
                contacted_at=ts(now),
            ),
        )
    if first:
        observe_with_trace(LEAD_TIME_TO_FIRST_CONTACT, (now - row.captured_at).total_seconds())
    return row.id, first


async def _refuse_cooling(conn: AsyncConnection, row: Row[Any], rep_id: str, now: datetime) -> None:
    """A rep may not claim a lead that went back to the pool from them until their cool-down ends."""
    until = (await repo.cooldowns(conn, lead_id=row.id, now=now)).get(rep_id)
    if until is not None:
        raise FailedPrecondition(f"rep {rep_id} lost this lead recently and may claim it again after {until}")


async def _record_manual(
    conn: AsyncConnection, row: Row[Any], rep_id: str, team_id: str, now: datetime, trigger: str
) -> None:
    # A person's explicit choice overrides the rules' cool-down (a pool claim has checked it already).
    await repo.clear_cooldown(conn, lead_id=row.id, rep_id=rep_id)
    await routing_repo.insert_decision(
        conn,
        lead_id=row.id,
        at=now,
        trigger=trigger,
        strategy=trigger,
        team_id=team_id,
        chosen_rep_id=rep_id,
        eligible=[rep_id],
        ineligible={},
        explanation=f"{trigger}: moved by a person, not by the rules",
    )


async def hand_to(
    runtime: Runtime,
    conn: AsyncConnection,
    row: Row[Any],
    rep: Row[Any],
    now: datetime,
    *,
    trigger: str,
    rule_id: str | None,
    from_rep: str | None = None,
    reason: str = "",
) -> None:
    """Give a (locked) lead to a rep a person chose, recording that choice as the routing decision."""
    teams = await team_states(conn, [rep.team_id])
    await _record_manual(conn, row, rep.id, rep.team_id, now, trigger)
    await give_to(
        runtime, conn, row, rep.id, rep.team_id, rule_id, now, teams.get(rep.team_id), from_rep=from_rep, reason=reason
    )


async def _active_rep(conn: AsyncConnection, rep_id: str, field: str) -> Row[Any]:
    """The rep `rep_id` names, when it exists and is active; else INVALID_ARGUMENT naming `field`."""
    canonical = records.parse_id(rep_id)
    rep = await staff_repo.get_rep(conn, rep_id=canonical) if canonical else None
    if rep is None or not rep.active:
        raise InvalidArgument([FieldViolation(field, "must name an active rep")])
    return rep


async def reassign(runtime: Runtime, lead_id: str, to_rep_id: str, reason: str) -> str:
    """Move a lead to a named rep by hand (a manager's decision)."""
    now = datetime.now(UTC)
    async with runtime.db.transaction() as conn:
        row = await _locked_lead(conn, lead_id)
        rep = await _active_rep(conn, to_rep_id, "to_rep_id")
        if row.assignee_id == rep.id:
            return row.id
        reason = reason.strip()[:200] or "manual"
        await hand_to(
            runtime, conn, row, rep, now, trigger="manual", rule_id=row.rule_id, from_rep=row.assignee_id, reason=reason
        )
    return row.id


async def claim_from_pool(runtime: Runtime, lead_id: str, rep_id: str) -> str:
    """A rep takes a pooled lead: under their holding limit, and not during their cool-down on it."""
    now = datetime.now(UTC)
    async with runtime.db.transaction() as conn:
        row = await _locked_lead(conn, lead_id)
        rep = await _active_rep(conn, rep_id, "rep_id")
        if row.status != "pool":
            raise FailedPrecondition(f"lead {row.id} is not in the public pool")
        await _refuse_cooling(conn, row, rep.id, now)
        await records.lock_key(conn, key=f"lead-holding:{rep.id}")
        held = await repo.count_open(conn, rep_id=rep.id)
        if held >= rep.holding_limit:
            raise FailedPrecondition(f"rep {rep.id} holds {held} leads, the holding limit is {rep.holding_limit}")
        await hand_to(runtime, conn, row, rep, now, trigger="pool_claim", rule_id=None)
        await repo.set_claimed(conn, lead_id=row.id, at=now)
        fresh = await records.get_lead(conn, lead_id=row.id)
        assert fresh is not None
        await _after_claim(runtime, conn, fresh, now, from_pool=True)
        await records.add_timeline(conn, lead_id=row.id, step="claimed", at=now, detail=f"{rep.id} from the pool")
        await runtime.stage(
            conn, "crm.lead.claimed", lead_events_pb2.LeadClaimed(lead_id=row.id, rep_id=rep.id, claimed_at=ts(now))
        )
    return row.id
