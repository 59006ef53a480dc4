"""The clock around the pool on a real PostgreSQL and NATS: fresh SLAs, cool-downs, working hours, replicas."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update

from crm.lead.v1 import lead_pb2
from crm_common.errors import FailedPrecondition
from crm_common.service import Runtime
from lead.app import DEFINITION
from lead.capture import use_cases as capture_cases
from lead.handlers import LeadServicer
from lead.ownership import repository as ownership_repo
from lead.ownership.clocks import run_clocks_once
from lead.tables import leads

from .test_routing_service import _lead, _publish, _rule, _team


async def _get(s: LeadServicer, lead_id: str) -> lead_pb2.Lead:
    return (await s.GetLead(lead_pb2.GetLeadRequest(lead_id=lead_id), None)).lead


async def _decisions(s: LeadServicer, lead_id: str) -> list:
    return list((await s.ExplainRouting(lead_pb2.ExplainRoutingRequest(lead_id=lead_id), None)).decisions)


async def _set_lead(runtime: Runtime, lead_id: str, **values) -> None:
    """Move a lead's stored times, as if things had happened earlier than this test can wait for."""
    async with runtime.db.transaction() as conn:
        await conn.execute(update(leads).where(leads.c.id == lead_id).values(**values))


async def _sweep(runtime: Runtime) -> None:
    await capture_cases._sweep_once(runtime, older_than=datetime.now(UTC) + timedelta(seconds=1))


def _at(stamp) -> datetime:
    return stamp.ToDatetime(tzinfo=UTC)


def _closed_now() -> lead_pb2.WorkCalendar:
    """Closed today, yesterday and tomorrow (whatever the hour in Shanghai)."""
    today = datetime.now(UTC).date()
    days_off = [str(today + timedelta(days=d)) for d in (-1, 0, 1)]
    return lead_pb2.WorkCalendar(timezone="Asia/Shanghai", workdays=range(1, 8), holidays=days_off)


def _open_until_two() -> tuple[lead_pb2.WorkCalendar, ZoneInfo]:
    """Every day 09:00-14:00 in a zone where it is now 12:xx: open now, closing within two hours."""
    offset = 12 - datetime.now(UTC).hour  # -11 .. +12, every one an Etc/GMT zone (whose sign is inverted)
    name = f"Etc/GMT{-offset:+d}" if offset else "Etc/GMT"
    calendar = lead_pb2.WorkCalendar(timezone=name, workdays=range(1, 8), start="09:00", end="14:00")
    return calendar, ZoneInfo(name)


def _local(day: date, at: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, at, zone).astimezone(UTC)


async def test_a_pool_claim_starts_a_fresh_first_contact_sla(runtime) -> None:
    s = LeadServicer(runtime)
    _, reps = await _team(s, "East", 1, manager="mgr")
    await _publish(s, _rule("cold", 100, to_pool=True))
    lead = (await s.CaptureLead(_lead("13812345678"), None)).lead
    assert lead.status == lead_pb2.LEAD_STATUS_POOL
    long_ago = datetime.now(UTC) - timedelta(days=5)
    await _set_lead(runtime, lead.id, captured_at=long_ago, contact_deadline_at=long_ago + timedelta(hours=24))
    taken = (await s.ClaimFromPool(lead_pb2.ClaimFromPoolRequest(lead_id=lead.id, rep_id=reps[0]), None)).lead
    claimed_at = _at(taken.claimed_at)
    assert _at(taken.first_contact_deadline_at) == claimed_at + timedelta(hours=24)
    assert await run_clocks_once(runtime, now=datetime.now(UTC) + timedelta(minutes=1)) == 0
    after = await _get(s, lead.id)
    assert "escalated" not in [t.step for t in after.timeline]
    assert await run_clocks_once(runtime, now=claimed_at + timedelta(hours=25)) == 1  # the fresh SLA still runs out
    assert [t.detail for t in (await _get(s, lead.id)).timeline if t.step == "escalated"] == [
        "first_contact_sla: no first contact within the SLA"
    ]


async def test_routing_skips_a_rep_cooling_down_on_the_lead(runtime) -> None:
    s = LeadServicer(runtime)
    east, reps = await _team(s, "East", 3, manager="mgr")
    await _publish(s, _rule("rest", 100, east))
    lead = (await s.CaptureLead(_lead("13812345678"), None)).lead
    lost = lead.assignee_id
    await s.ClaimLead(lead_pb2.ClaimLeadRequest(lead_id=lead.id, rep_id=lost), None)
    assert await run_clocks_once(runtime, now=datetime.now(UTC) + timedelta(days=8)) == 3  # SLA, warning, pool
    assert (await _get(s, lead.id)).status == lead_pb2.LEAD_STATUS_POOL
    second = next(r for r in reps if r != lost)
    third = next(r for r in reps if r not in (lost, second))
    await s.ReassignLead(lead_pb2.ReassignLeadRequest(lead_id=lead.id, to_rep_id=second), None)
    # The second rep lets the claim window lapse: the rules pass over the rep who is cooling down.
    assert await run_clocks_once(runtime, now=datetime.now(UTC) + timedelta(hours=3)) == 1
    assert (await _get(s, lead.id)).assignee_id == third
    last = (await _decisions(s, lead.id))[-1]
    reasons = {i.rep_id: i.reason for i in last.ineligible}
    assert last.trigger == "claim_expired" and last.chosen_rep_id == third
    assert reasons[lost].startswith("cooling down: lost this lead to the pool")
    assert reasons[second] == "claim window already lapsed with this rep"
    # Nor may a cooling rep claim it as its assignee; a manager's explicit move lifts the cool-down.
    async with runtime.db.transaction() as conn:
        await ownership_repo.set_cooldown(
            conn, lead_id=lead.id, rep_id=third, until=datetime.now(UTC) + timedelta(days=1)
        )
    with pytest.raises(FailedPrecondition, match="again after"):
        await s.ClaimLead(lead_pb2.ClaimLeadRequest(lead_id=lead.id, rep_id=third), None)
    await s.ReassignLead(lead_pb2.ReassignLeadRequest(lead_id=lead.id, to_rep_id=lost), None)
    await s.ClaimLead(lead_pb2.ClaimLeadRequest(lead_id=lead.id, rep_id=lost), None)
    assert (await _get(s, lead.id)).status == lead_pb2.LEAD_STATUS_CLAIMED


async def test_a_capture_waits_when_team_and_overflow_are_closed(runtime) -> None:
    s = LeadServicer(runtime)
    east, east_reps = await _team(s, "East", 1)
    support, support_reps = await _team(s, "Support", 1)
    for team in (east, support):
        await s.UpdateTeam(lead_pb2.UpdateTeamRequest(team_id=team, calendar=_closed_now()), None)
    await _publish(s, _rule("rest", 100, east, overflow_team_id=support))
    lead = (await s.CaptureLead(_lead("13812345678"), None)).lead
    assert lead.status == lead_pb2.LEAD_STATUS_NEW and not lead.assignee_id
    (d,) = await _decisions(s, lead.id)
    assert not d.to_pool and "waits for the next opening" in d.explanation
    assert {i.rep_id: i.reason for i in d.ineligible} == {
        east_reps[0]: "outside working hours",
        support_reps[0]: "outside working hours",
    }
    await s.UpdateTeam(lead_pb2.UpdateTeamRequest(team_id=east, clear_calendar=True), None)  # the team opens
    await _sweep(runtime)
    assert (await _get(s, lead.id)).assignee_id == east_reps[0]


async def test_the_claim_deadline_counts_the_team_working_hours(runtime) -> None:
    s = LeadServicer(runtime)
    east, _ = await _team(s, "East", 1)
    calendar, zone = _open_until_two()
    await s.UpdateTeam(lead_pb2.UpdateTeamRequest(team_id=east, calendar=calendar), None)
    await _publish(s, _rule("rest", 100, east))
    lead = (await s.CaptureLead(_lead("13812345678"), None)).lead
    assigned_at = _at(lead.assigned_at)
    today = assigned_at.astimezone(zone).date()
    left_today = _local(today, time(14), zone) - assigned_at
    next_morning = _local(today + timedelta(days=1), time(9), zone)
    assert _at(lead.claim_deadline_at) == next_morning + timedelta(hours=2) - left_today


async def test_a_lapse_after_closing_waits_for_the_next_opening(runtime) -> None:
    s = LeadServicer(runtime)
    east, east_reps = await _team(s, "East", 2, manager="mgr")
    support, _ = await _team(s, "Support", 1)
    calendar, zone = _open_until_two()
    for team in (east, support):
        await s.UpdateTeam(lead_pb2.UpdateTeamRequest(team_id=team, calendar=calendar), None)
    await _publish(s, _rule("rest", 100, east, overflow_team_id=support))
    lead = (await s.CaptureLead(_lead("13812345678"), None)).lead
    first = lead.assignee_id
    tomorrow = _at(lead.assigned_at).astimezone(zone).date() + timedelta(days=1)
    just_after_closing = _local(tomorrow, time(14, 1), zone)
    assert _at(lead.claim_deadline_at) < just_after_closing
    assert await run_clocks_once(runtime, now=just_after_closing) == 1
    waiting = await _get(s, lead.id)
    assert waiting.status == lead_pb2.LEAD_STATUS_NEW and not waiting.assignee_id
    assert [t.step for t in waiting.timeline][-2:] == ["escalated", "waiting"]
    last = (await _decisions(s, lead.id))[-1]
    assert last.trigger == "claim_expired" and not last.to_pool
    assert "outside working hours; the lead waits for the next opening" in last.explanation
    await _sweep(runtime)  # it is working time again (the real now): the next rep, not the one that lapsed
    assert (await _get(s, lead.id)).assignee_id == next(r for r in east_reps if r != first)


async def _replicas(runtime: Runtime, n: int) -> list[Runtime]:
    replicas = [Runtime(DEFINITION, runtime.settings) for _ in range(n)]
    for replica in replicas:
        replica.peers = runtime.peers
    return replicas


async def test_two_replicas_race_to_claim_one_pooled_lead(runtime) -> None:
    s = LeadServicer(runtime)
    _, reps = await _team(s, "East", 2)
    await _publish(s, _rule("cold", 100, to_pool=True))
    lead = (await s.CaptureLead(_lead("13812345678"), None)).lead
    replicas = await _replicas(runtime, 2)
    try:
        claims = [
            LeadServicer(replica).ClaimFromPool(lead_pb2.ClaimFromPoolRequest(lead_id=lead.id, rep_id=rep), None)
            for replica, rep in zip(replicas, reps, strict=True)
        ]
        results = await asyncio.gather(*claims, return_exceptions=True)
    finally:
        for replica in replicas:
            await replica.db.dispose()
    won = [r.lead.assignee_id for r in results if not isinstance(r, BaseException)]
    lost = [r for r in results if isinstance(r, BaseException)]
    assert len(won) == 1 and len(lost) == 1
    assert isinstance(lost[0], FailedPrecondition) and "not in the public pool" in str(lost[0])
    after = await _get(s, lead.id)
    assert (after.status, after.assignee_id) == (lead_pb2.LEAD_STATUS_CLAIMED, won[0])
    assert [d.trigger for d in await _decisions(s, lead.id)] == ["capture", "pool_claim"]


async def test_two_replicas_run_the_clocks_over_one_lapsed_lead_once(runtime) -> None:
    s = LeadServicer(runtime)
    east, _ = await _team(s, "East", 2, manager="mgr")
    await _publish(s, _rule("rest", 100, east))
    lead = (await s.CaptureLead(_lead("13812345678"), None)).lead
    later = datetime.now(UTC) + timedelta(hours=3)
    replicas = await _replicas(runtime, 2)
    try:
        done = await asyncio.gather(*(run_clocks_once(replica, now=later) for replica in replicas))
    finally:
        for replica in replicas:
            await replica.db.dispose()
    assert sorted(done) == [0, 1]
    assert [d.trigger for d in await _decisions(s, lead.id)] == ["capture", "claim_expired"]
    steps = [t.step for t in (await _get(s, lead.id)).timeline]
    assert steps.count("escalated") == 1 and steps.count("reassigned") == 1


async def test_a_repeat_outside_the_duplicate_window_is_a_new_lead(runtime) -> None:
    s = LeadServicer(runtime)
    east, _ = await _team(s, "East", 1)
    await _publish(s, _rule("rest", 100, east))
    first = (await s.CaptureLead(_lead("13812345678"), None)).lead
    window = timedelta(hours=runtime.settings.duplicate_window_hours)
    await _set_lead(runtime, first.id, captured_at=datetime.now(UTC) - window - timedelta(minutes=1))
    again = await s.CaptureLead(_lead("13812345678"), None)
    assert again.created and not again.duplicate and again.lead.id != first.id
    assert (await _get(s, first.id)).touches == 0


async def test_a_contact_restarts_the_pool_clock(runtime) -> None:
    s = LeadServicer(runtime)
    east, _ = await _team(s, "East", 1)
    await _publish(s, _rule("rest", 100, east))
    lead = (await s.CaptureLead(_lead("13812345678"), None)).lead
    rep = lead.assignee_id
    await s.ClaimLead(lead_pb2.ClaimLeadRequest(lead_id=lead.id, rep_id=rep), None)
    contact = lead_pb2.RecordContactRequest(lead_id=lead.id, rep_id=rep, channel="phone", summary="first call")
    await s.RecordContact(contact, None)
    # As if that first contact was five days ago: the pool warning is due in a day, the return in two.
    now = datetime.now(UTC)
    await _set_lead(
        runtime,
        lead.id,
        last_activity_at=now - timedelta(days=5),
        clock_due_at=now + timedelta(days=1),
        pool_return_at=now + timedelta(days=2),
    )
    await s.RecordContact(contact, None)  # a follow-up today
    assert await run_clocks_once(runtime, now=now + timedelta(days=2, hours=1)) == 0
    after = await _get(s, lead.id)
    assert (after.status, after.assignee_id) == (lead_pb2.LEAD_STATUS_CONTACTED, rep)
    assert _at(after.pool_return_at) > now + timedelta(days=6)
