"""Who sees which lead, checked in the service (not only at the edge): every role, owner and non-owner."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import update

from crm.lead.v1 import lead_pb2
from crm_common.access import Action, Resource, decide
from crm_common.audit import audit_of, read_chain, verify
from crm_common.errors import NotFound, PermissionDenied
from crm_common.identity import Principal, Role, acting_as, service_principal
from lead.access import owner_of
from lead.handlers import LeadServicer
from lead.tables import leads

from .test_journey import _capture, _team_with_reps

PHONE = "+8613812345678"


def _as(role: Role, *, rep_id: str | None = None, teams: tuple[str, ...] = ()) -> Principal:
    return Principal(subject=f"test:{role.value}:{rep_id or ''}", role=role, rep_id=rep_id, team_ids=teams)


async def _get(s: LeadServicer, lead_id: str) -> lead_pb2.Lead:
    return (await s.GetLead(lead_pb2.GetLeadRequest(lead_id=lead_id), None)).lead


async def test_every_role_reads_a_lead_as_the_matrix_says(runtime) -> None:
    s = LeadServicer(runtime)
    team, reps = await _team_with_reps(s, 2)
    captured = (await s.CaptureLead(_capture("13812345678"), None)).lead
    owner = captured.assignee_id
    other = next(r for r in reps if r != owner)
    callers = {
        "owner rep": _as(Role.SALES_REP, rep_id=owner),
        "other rep": _as(Role.SALES_REP, rep_id=other),
        "team manager": _as(Role.MANAGER, teams=(team,)),
        "other manager": _as(Role.MANAGER, teams=("another-team",)),
        **{role.value: _as(role) for role in Role if role not in (Role.SALES_REP, Role.MANAGER)},
        "lead service for the owner": service_principal("lead", on_behalf_of=_as(Role.SALES_REP, rep_id=owner)),
        "lead service for another rep": service_principal("lead", on_behalf_of=_as(Role.SALES_REP, rep_id=other)),
    }
    for name, principal in callers.items():
        expected = decide(principal, Resource.LEAD, Action.READ, owner=owner_of(captured))
        with acting_as(principal):
            if not expected.allowed:
                with pytest.raises(NotFound):
                    await _get(s, captured.id)
                continue
            lead = await _get(s, captured.id)
        assert lead.id == captured.id, name
        if expected.personal:
            assert lead.input.phone == PHONE and lead.input.name == "王芳", name
        else:
            assert PHONE not in str(lead) and lead.input.name != "王芳" and not lead.customer_id, name
            assert lead.input.phone.startswith("+86138****"), name
    # The reproductions, named: a viewer sees no phone, rep B does not read rep A's lead.
    with acting_as(callers["viewer"]):
        assert (await _get(s, captured.id)).input.phone != PHONE
    with acting_as(callers["other rep"]), pytest.raises(NotFound):
        await _get(s, captured.id)


async def test_a_rep_acts_only_on_its_leads_and_as_itself(runtime) -> None:
    s = LeadServicer(runtime)
    team, reps = await _team_with_reps(s, 2)
    lead = (await s.CaptureLead(_capture("13812345679"), None)).lead
    other = next(r for r in reps if r != lead.assignee_id)
    with acting_as(_as(Role.SALES_REP, rep_id=other)):
        with pytest.raises(PermissionDenied):
            await s.ClaimLead(lead_pb2.ClaimLeadRequest(lead_id=lead.id, rep_id=lead.assignee_id), None)
        with pytest.raises(PermissionDenied):
            await s.ClaimLead(lead_pb2.ClaimLeadRequest(lead_id=lead.id, rep_id=other), None)
        with pytest.raises(PermissionDenied):
            await s.ReassignLead(lead_pb2.ReassignLeadRequest(lead_id=lead.id, to_rep_id=other, reason="mine"), None)
    with acting_as(_as(Role.MANAGER, teams=("another-team",))), pytest.raises(PermissionDenied):
        await s.ReassignLead(lead_pb2.ReassignLeadRequest(lead_id=lead.id, to_rep_id=other, reason="x"), None)
    with acting_as(_as(Role.VIEWER)), pytest.raises(PermissionDenied):
        await s.ListQuarantine(lead_pb2.ListQuarantineRequest(), None)
    with acting_as(_as(Role.SALES_REP, rep_id=other)), pytest.raises(PermissionDenied):
        await s.CreateTeam(lead_pb2.CreateTeamRequest(name="mine"), None)
    with acting_as(_as(Role.SALES_REP, rep_id=lead.assignee_id)):
        claimed = (
            await s.ClaimLead(lead_pb2.ClaimLeadRequest(lead_id=lead.id, rep_id=lead.assignee_id), None)
        ).lead
    assert claimed.status == lead_pb2.LEAD_STATUS_CLAIMED and claimed.input.phone == "+8613812345679"
    with acting_as(_as(Role.MANAGER, teams=(team,))):
        moved = (
            await s.ReassignLead(lead_pb2.ReassignLeadRequest(lead_id=lead.id, to_rep_id=other, reason="x"), None)
        ).lead
    assert moved.assignee_id == other


async def test_a_pooled_lead_does_not_lead_to_its_customer(runtime) -> None:
    s = LeadServicer(runtime)
    await _team_with_reps(s, 1)
    lead = (await s.CaptureLead(_capture("13812345670"), None)).lead
    async with runtime.db.transaction() as conn:
        await conn.execute(
            update(leads)
            .where(leads.c.id == lead.id)
            .values(status="pool", assignee_id=None, customer_id="6f1c1f55-6f0e-4b7e-9a59-1b7a3c1f0a11")
        )
    for role in (Role.ADMIN, Role.SYSTEM, Role.MANAGER, Role.SALES_REP):
        with acting_as(_as(role, rep_id="any-rep" if role is Role.SALES_REP else None)):
            pooled = await _get(s, lead.id)
        assert pooled.input.phone == "+86138****5670" and pooled.customer_id == "", role
    with acting_as(_as(Role.VIEWER)), pytest.raises(NotFound):
        await _get(s, lead.id)


async def test_reads_of_personal_data_are_audited(runtime) -> None:
    s = LeadServicer(runtime)
    await _team_with_reps(s, 1)
    lead = (await s.CaptureLead(_capture("13812345671"), None)).lead
    rep = _as(Role.SALES_REP, rep_id=lead.assignee_id)
    with acting_as(rep):
        await _get(s, lead.id)
    with acting_as(_as(Role.VIEWER)):
        await _get(s, lead.id)  # masked: nothing personal shown, nothing to audit
    entries = await read_chain(runtime.js, audit_of(runtime).chain)
    mine = [e for e in entries if e.record_id == lead.id]
    assert [(e.subject, e.role, e.fields) for e in mine] == [(rep.subject, "sales_rep", ("phone",))]
    assert verify(entries) == []


async def test_a_manager_lists_only_its_teams_reps(runtime) -> None:
    s = LeadServicer(runtime)
    team, reps = await _team_with_reps(s, 2)
    other_team = (await s.CreateTeam(lead_pb2.CreateTeamRequest(name=f"West-{uuid.uuid4().hex[:6]}"), None)).team.id
    await s.CreateRep(lead_pb2.CreateRepRequest(name="elsewhere", team_id=other_team), None)
    with acting_as(_as(Role.MANAGER, teams=(team,))):
        listed = (await s.ListReps(lead_pb2.ListRepsRequest(), None)).reps
    assert {r.id for r in listed} == set(reps)
    with acting_as(_as(Role.ADMIN)):
        assert len((await s.ListReps(lead_pb2.ListRepsRequest(), None)).reps) > len(reps)
