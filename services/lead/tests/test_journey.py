"""The lead journey on a real PostgreSQL and NATS: capture, routing, claim, contact, concurrency."""

from __future__ import annotations

import asyncio
import collections

import pytest
from sqlalchemy import func, select

from crm.lead.v1 import lead_pb2
from crm_common.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from lead.capture import use_cases as capture_cases
from lead.domain import validate_lead
from lead.handlers import LeadServicer
from lead.tables import leads, timeline

# No customer-master runs in these tests (conftest.py): resolution fails fast and the lead is kept unresolved.


async def _team_with_reps(servicer: LeadServicer, n: int) -> tuple[str, list[str]]:
    team = (await servicer.CreateTeam(lead_pb2.CreateTeamRequest(name="East"), None)).team
    reps = [
        (await servicer.CreateRep(lead_pb2.CreateRepRequest(name=f"rep{i}", team_id=team.id), None)).rep.id
        for i in range(n)
    ]
    rule = lead_pb2.RoutingRule(name="default", priority=100, team_id=team.id)
    await servicer.PutRoutingRule(lead_pb2.PutRoutingRuleRequest(rule=rule), None)
    return team.id, reps


def _capture(phone: str, key: str = "") -> lead_pb2.CaptureLeadRequest:
    return lead_pb2.CaptureLeadRequest(
        lead=lead_pb2.LeadInput(name="王芳", phone=phone, source=lead_pb2.Source(channel="web_form")),
        idempotency_key=key,
    )


async def test_capture_assigns_and_records_the_timeline(runtime) -> None:
    servicer = LeadServicer(runtime)
    _, reps = await _team_with_reps(servicer, 2)
    response = await servicer.CaptureLead(_capture("13812345678"), None)
    lead = response.lead
    assert response.created
    assert lead.status == lead_pb2.LEAD_STATUS_ASSIGNED
    assert lead.assignee_id in reps
    assert lead.input.phone == "+8613812345678"
    assert [t.step for t in lead.timeline] == ["captured", "assigned"]


async def test_idempotency_key_returns_the_first_lead(runtime) -> None:
    servicer = LeadServicer(runtime)
    await _team_with_reps(servicer, 1)
    first = await servicer.CaptureLead(_capture("13812345678", key="form-1"), None)
    again = await asyncio.gather(*(servicer.CaptureLead(_capture("13812345678", key="form-1"), None) for _ in range(5)))
    assert all(r.lead.id == first.lead.id and not r.created for r in again)
    async with runtime.db.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(leads)) == 1


async def test_concurrent_captures_never_double_assign_and_split_fairly(runtime) -> None:
    servicer = LeadServicer(runtime)
    _, reps = await _team_with_reps(servicer, 3)
    responses = await asyncio.gather(*(servicer.CaptureLead(_capture(f"1381234{i:04d}"), None) for i in range(30)))
    counts = collections.Counter(r.lead.assignee_id for r in responses)
    assert set(counts) == set(reps)
    assert max(counts.values()) - min(counts.values()) <= 1
    async with runtime.db.connect() as conn:
        assigned_steps = await conn.scalar(
            select(func.count()).select_from(timeline).where(timeline.c.step == "assigned")
        )
    assert assigned_steps == 30


async def test_claim_and_contact_by_the_assignee_only(runtime) -> None:
    servicer = LeadServicer(runtime)
    _, reps = await _team_with_reps(servicer, 2)
    lead = (await servicer.CaptureLead(_capture("13812345678"), None)).lead
    other = next(r for r in reps if r != lead.assignee_id)
    with pytest.raises(PermissionDenied):
        await servicer.ClaimLead(lead_pb2.ClaimLeadRequest(lead_id=lead.id, rep_id=other), None)
    claimed = (await servicer.ClaimLead(lead_pb2.ClaimLeadRequest(lead_id=lead.id, rep_id=lead.assignee_id), None)).lead
    assert claimed.status == lead_pb2.LEAD_STATUS_CLAIMED
    contact = lead_pb2.RecordContactRequest(lead_id=lead.id, rep_id=lead.assignee_id, channel="phone", summary="hi")
    first = await servicer.RecordContact(contact, None)
    second = await servicer.RecordContact(contact, None)
    assert first.first_contact and not second.first_contact
    assert first.lead.status == lead_pb2.LEAD_STATUS_CONTACTED
    assert second.lead.first_contact_at == first.lead.first_contact_at
    assert [t.step for t in second.lead.timeline] == ["captured", "assigned", "claimed", "contacted", "contacted"]


async def test_bad_requests_name_the_field_and_write_nothing(runtime) -> None:
    servicer = LeadServicer(runtime)
    await _team_with_reps(servicer, 1)
    with pytest.raises(InvalidArgument) as err:
        await servicer.CaptureLead(_capture("12345"), None)
    assert [v.field for v in err.value.violations] == ["phone"]
    with pytest.raises(NotFound):
        await servicer.GetLead(lead_pb2.GetLeadRequest(lead_id="not-a-uuid"), None)
    async with runtime.db.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(leads)) == 0


async def test_a_lead_with_no_eligible_rep_waits_and_is_assigned_when_one_appears(runtime) -> None:
    servicer = LeadServicer(runtime)
    _, reps = await _team_with_reps(servicer, 1)
    await servicer.SetRepActive(lead_pb2.SetRepActiveRequest(rep_id=reps[0], active=False), None)
    lead = (await servicer.CaptureLead(_capture("13812345678"), None)).lead
    assert lead.status == lead_pb2.LEAD_STATUS_NEW and not lead.assignee_id
    with pytest.raises(FailedPrecondition):
        await servicer.ClaimLead(lead_pb2.ClaimLeadRequest(lead_id=lead.id, rep_id=reps[0]), None)
    await servicer.SetRepActive(lead_pb2.SetRepActiveRequest(rep_id=reps[0], active=True), None)
    from datetime import UTC, datetime, timedelta

    await capture_cases._sweep_once(runtime, older_than=datetime.now(UTC) + timedelta(seconds=1))
    again = (await servicer.GetLead(lead_pb2.GetLeadRequest(lead_id=lead.id), None)).lead
    assert again.assignee_id == reps[0]
    assert again.status == lead_pb2.LEAD_STATUS_ASSIGNED


async def test_validated_lead_fields_route_by_rule(runtime) -> None:
    servicer = LeadServicer(runtime)
    _, reps = await _team_with_reps(servicer, 1)
    west = (await servicer.CreateTeam(lead_pb2.CreateTeamRequest(name="West"), None)).team
    west_rep = (await servicer.CreateRep(lead_pb2.CreateRepRequest(name="w", team_id=west.id), None)).rep
    rule = lead_pb2.RoutingRule(
        name="sichuan", priority=10, team_id=west.id, conditions={"province": lead_pb2.StringList(values=["四川"])}
    )
    await servicer.PutRoutingRule(lead_pb2.PutRoutingRuleRequest(rule=rule), None)
    request = _capture("13812345678")
    request.lead.province = "四川"
    assert (await servicer.CaptureLead(request, None)).lead.assignee_id == west_rep.id
    assert (await servicer.CaptureLead(_capture("13912345678"), None)).lead.assignee_id == reps[0]
    assert validate_lead(request.lead, region="CN").province == "四川"
