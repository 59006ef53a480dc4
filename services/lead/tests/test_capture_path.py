"""The fast capture path: its answer is what a read returns, and the open-lead counter never drifts."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import func, select

from crm.lead.v1 import lead_pb2
from crm_common.settings import PeerAddresses
from lead import journey
from lead import repository as repo
from lead.app import DEFINITION
from lead.handlers import LeadServicer
from lead.tables import leads, open_lead_counts, reps

os.environ.setdefault("CRM_CUSTOMER_MASTER_ADDR", "127.0.0.1:1")


@pytest.fixture
async def runtime(service_runtime):
    async with service_runtime(DEFINITION, resolve_timeout_seconds=0.5) as runtime:
        runtime.peers = PeerAddresses(customer_master_addr="127.0.0.1:1")
        yield runtime


async def _team(s: LeadServicer, name: str, n: int) -> tuple[str, list[str]]:
    team = (await s.CreateTeam(lead_pb2.CreateTeamRequest(name=name), None)).team
    rep_ids = [
        (await s.CreateRep(lead_pb2.CreateRepRequest(name=f"{name}{i}", team_id=team.id), None)).rep.id
        for i in range(n)
    ]
    return team.id, rep_ids


def _lead(phone: str, **kw: str) -> lead_pb2.CaptureLeadRequest:
    source = lead_pb2.Source(channel="web_form", utm_campaign="expo")
    return lead_pb2.CaptureLeadRequest(lead=lead_pb2.LeadInput(name="王芳", phone=phone, source=source, **kw))


async def _counters_match_a_count(runtime) -> dict[str, int]:
    """Every rep's maintained counter equals a count of its open leads; returns the counts."""
    async with runtime.db.connect() as conn:
        rep_ids = list((await conn.execute(select(reps.c.id))).scalars())
        counted = {r: await repo.count_open(conn, rep_id=r) for r in rep_ids}
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
    await journey.claim(runtime, first.id, a)
    await journey.record_contact(runtime, first.id, a, "phone", "")
    assert await _counters_match_a_count(runtime) == {a: 3, b: 3, c: 0}  # claimed and contacted stay open

    async with runtime.db.transaction() as conn:
        await repo.set_converted(conn, lead_id=first.id, at=first.captured_at.ToDatetime())
    await journey.reassign(runtime, second.id, c, "closer to the customer")
    assert await _counters_match_a_count(runtime) == {a: 1, b: 3, c: 1}

    await s.SetRepActive(lead_pb2.SetRepActiveRequest(rep_id=a, active=False, successor_rep_id=b), None)
    assert await _counters_match_a_count(runtime) == {a: 0, b: 4, c: 1}
    async with runtime.db.connect() as conn:
        assert await conn.scalar(select(leads.c.assignee_id).where(leads.c.id == third.id)) == b
        assert await conn.scalar(select(func.count()).select_from(leads)) == 6
