"""The fast capture path: its answer is what a read returns, and the open-lead counter never drifts."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime

import psycopg
from sqlalchemy import func, select, update

from crm.events.v1 import lead_events_pb2
from crm.lead.v1 import lead_pb2
from crm_common.bus.outbox import notify_channel, riding_events
from lead import records
from lead.app import DEFINITION
from lead.capture import repository as capture_repo
from lead.domain import validate_lead
from lead.handlers import LeadServicer
from lead.ownership import repository as ownership_repo
from lead.ownership import use_cases as ownership_cases
from lead.tables import leads, open_lead_counts, reps

from .test_routing_service import _team


def _lead(phone: str, **kw: str) -> lead_pb2.CaptureLeadRequest:
    source = lead_pb2.Source(channel="web_form", utm_campaign="expo")
    return lead_pb2.CaptureLeadRequest(lead=lead_pb2.LeadInput(name="王芳", phone=phone, source=source, **kw))


async def _counters_match_a_count(runtime) -> dict[str, int]:
    """Every rep's maintained counter equals a count of its open leads; returns the counts."""
    async with runtime.db.connect() as conn:
        rep_ids = list((await conn.execute(select(reps.c.id))).scalars())
        counted = {r: await ownership_repo.count_open(conn, rep_id=r) for r in rep_ids}
        kept = dict((await conn.execute(select(open_lead_counts.c.rep_id, open_lead_counts.c.open_leads))).all())
    assert {r: kept.get(r, 0) for r in rep_ids} == counted
    return counted


async def test_the_capture_answer_is_what_a_read_returns(runtime) -> None:
    s = LeadServicer(runtime)
    team_id, rep_ids = await _team(s, "East", 2)
    await s.PutRoutingRule(lead_pb2.PutRoutingRuleRequest(rule=lead_pb2.RoutingRule(name="all", team_id=team_id)), None)
    for i in range(3):
        captured = await s.CaptureLead(_lead(f"1381234567{i}", company="成都某某贸易", industry="retail"), None)
        assert captured.created and captured.lead.assignee_id in rep_ids
        read = await s.GetLead(lead_pb2.GetLeadRequest(lead_id=captured.lead.id), None)
        assert captured.lead == read.lead
    assert [t.step for t in read.lead.timeline] == ["captured", "assigned"]


async def test_the_open_lead_counter_follows_every_move(runtime) -> None:
    s = LeadServicer(runtime)
    east, (a, b) = await _team(s, "East", 2)
    _, (c,) = await _team(s, "West", 1)
    await s.PutRoutingRule(lead_pb2.PutRoutingRuleRequest(rule=lead_pb2.RoutingRule(name="all", team_id=east)), None)
    captured = [(await s.CaptureLead(_lead(f"1391234000{i}"), None)).lead for i in range(6)]
    assert await _counters_match_a_count(runtime) == {a: 3, b: 3, c: 0}

    first, second, third = (lead for lead in captured if lead.assignee_id == a)
    await ownership_cases.claim(runtime, first.id, a)
    await ownership_cases.record_contact(runtime, first.id, a, "phone", "")
    assert await _counters_match_a_count(runtime) == {a: 3, b: 3, c: 0}  # claimed and contacted stay open

    async with runtime.db.transaction() as conn:
        await ownership_repo.set_converted(conn, lead_id=first.id, at=first.captured_at.ToDatetime())
    await ownership_cases.reassign(runtime, second.id, c, "closer to the customer")
    assert await _counters_match_a_count(runtime) == {a: 1, b: 3, c: 1}

    await s.SetRepActive(lead_pb2.SetRepActiveRequest(rep_id=a, active=False, successor_rep_id=b), None)
    assert await _counters_match_a_count(runtime) == {a: 0, b: 4, c: 1}
    async with runtime.db.connect() as conn:
        assert await conn.scalar(select(leads.c.assignee_id).where(leads.c.id == third.id)) == b
        assert await conn.scalar(select(func.count()).select_from(leads)) == 6


async def test_a_capture_publishes_its_events_in_order_with_one_wake_up(runtime) -> None:
    """The events ride on the lead's and the assignment's statements: in order, complete, one NOTIFY per commit."""
    s = LeadServicer(runtime)
    team_id, _ = await _team(s, "North", 2)
    await s.PutRoutingRule(lead_pb2.PutRoutingRuleRequest(rule=lead_pb2.RoutingRule(name="all", team_id=team_id)), None)
    seen: list[tuple[str, bytes, dict[str, str]]] = []
    arrived = asyncio.Event()

    async def collect(msg) -> None:
        seen.append((msg.subject, msg.data, dict(msg.headers or {})))
        if msg.subject == "crm.lead.assigned":
            arrived.set()

    assert runtime.nc is not None
    subscription = await runtime.nc.subscribe("crm.lead.>", cb=collect)
    listener = await psycopg.AsyncConnection.connect(runtime.libpq_url(), autocommit=True)
    try:
        await listener.execute(f"LISTEN {notify_channel('lead')}")
        captured = await s.CaptureLead(_lead("13812345679"), None)
        await asyncio.wait_for(arrived.wait(), 10)
        wake_ups = []
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(0.5):
                async for note in listener.notifies():
                    wake_ups.append(note.payload)
    finally:
        await subscription.unsubscribe()
        await listener.close()
    ours = [(subject, data, headers) for subject, data, headers in seen if subject != "crm.lead.rule_published"]
    assert [subject for subject, _, _ in ours] == ["crm.lead.captured", "crm.lead.assigned"]
    first = lead_events_pb2.LeadCaptured.FromString(ours[0][1])
    then = lead_events_pb2.LeadAssigned.FromString(ours[1][1])
    assert first.lead_id == then.lead_id == captured.lead.id
    assert then.assignee_id == captured.lead.assignee_id and then.team_id == team_id
    assert all(headers.get("Nats-Msg-Id") for _, _, headers in ours)
    # One transaction, one wake-up for the relay, naming its first event.
    assert wake_ups == [ours[0][2]["Nats-Msg-Id"]]


async def test_an_assignment_that_does_not_happen_announces_nothing(runtime) -> None:
    """The assigned event rides on the assignment: a rep gone since the decision gets neither lead nor event."""
    s = LeadServicer(runtime)
    team_id, (rep_id,) = await _team(s, "West", 1)
    async with runtime.db.transaction() as conn:
        row = await capture_repo.insert_lead(
            conn,
            lead=validate_lead(_lead("13812345678").lead, region="CN"),
            idempotency_key=None,
            customer_id=None,
            traceparent="",
            trace_id="",
            captured_at=datetime.now(UTC),
        )
    async with runtime.db.transaction() as conn:  # gone since the decision was made
        await conn.execute(update(reps).where(reps.c.id == rep_id).values(active=False))
    async with runtime.db.transaction() as conn:
        riding = riding_events(
            conn, DEFINITION.outbox, [("crm.lead.assigned", lead_events_pb2.LeadAssigned(lead_id=row.id))]
        )
        assigned = await ownership_repo.assign_lead(
            conn,
            lead_id=row.id,
            rep_id=rep_id,
            team_id=team_id,
            rule_id=None,
            at=datetime.now(UTC),
            claim_deadline=datetime.now(UTC),
            steps=[records.Step("assigned", datetime.now(UTC), rep_id)],
            hold_rep=True,
            events=riding,
        )
        assert assigned is None
        written = await conn.scalar(
            select(func.count())
            .select_from(DEFINITION.outbox)
            .where(DEFINITION.outbox.c.event_id == riding.params["ev_ids"][0])
        )
        assert written == 0


async def test_concurrent_repeats_of_one_person_make_one_lead_and_touches(runtime) -> None:
    """The phone's lock and the duplicate check are one call: repeats racing each other still see the first."""
    s = LeadServicer(runtime)
    team_id, _ = await _team(s, "South", 2)
    await s.PutRoutingRule(lead_pb2.PutRoutingRuleRequest(rule=lead_pb2.RoutingRule(name="all", team_id=team_id)), None)
    answers = await asyncio.gather(*(s.CaptureLead(_lead("13812345677"), None) for _ in range(8)))
    assert len({a.lead.id for a in answers}) == 1
    assert sum(a.created for a in answers) == 1
    async with runtime.db.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(leads)) == 1
        assert await conn.scalar(select(leads.c.touches)) == 7
    await _counters_match_a_count(runtime)


async def test_capture_context_finds_the_duplicate_the_rule_version_and_the_account_owner(runtime) -> None:
    """The locked read gives what capture weighs: an earlier lead of the person, the live rules, the owner."""
    s = LeadServicer(runtime)
    team_id, rep_ids = await _team(s, "Central", 2)
    await s.PutRoutingRule(lead_pb2.PutRoutingRuleRequest(rule=lead_pb2.RoutingRule(name="all", team_id=team_id)), None)
    first = await s.CaptureLead(_lead("13812345676"), None)
    async with runtime.db.transaction() as conn:
        await conn.execute(update(leads).where(leads.c.id == first.lead.id).values(customer_id="customer-7"))
    now = datetime.now(UTC)
    async with runtime.db.transaction() as conn:
        found = await capture_repo.capture_context(
            conn,
            lock=["lead-contact:+8613812345676"],
            phone="+8613812345676",
            email="",
            channel="web_form",
            since=now.replace(year=now.year - 1),
            customer_id="customer-7",
        )
        assert found.duplicate_id == first.lead.id
        assert found.version >= 1
        assert found.owner_id == first.lead.assignee_id and found.owner_id in rep_ids
        other = await capture_repo.capture_context(
            conn,
            lock=[],
            phone="+8613800000000",
            email="a@example.com",
            channel="web_form",
            since=now,
            customer_id=None,
        )
        assert other.duplicate_id is None and other.owner_id is None and other.version == found.version
