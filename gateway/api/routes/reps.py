"""Sales teams and reps, kept by the lead service (it routes leads to them)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from crm.lead.v1 import lead_pb2
from gateway import convert, schemas
from gateway.api.deps import AdminDep, LeadClientDep, RepIdDep, TeamReaderDep
from gateway.core.peers import CALL_DEADLINE_SECONDS

router = APIRouter(prefix="/v1", tags=["teams and reps"])


@router.post("/teams", status_code=201, response_model=schemas.TeamOut)
async def create_team(body: schemas.TeamIn, _caller: AdminDep, lead_client: LeadClientDep) -> schemas.TeamOut:
    """Add a sales team."""
    reply = await lead_client.CreateTeam(lead_pb2.CreateTeamRequest(name=body.name), timeout=CALL_DEADLINE_SECONDS)
    return convert.team(reply.team)


@router.get("/teams", response_model=list[schemas.TeamOut])
async def list_teams(_caller: TeamReaderDep, lead_client: LeadClientDep) -> list[schemas.TeamOut]:
    """Every sales team."""
    reply = await lead_client.ListTeams(lead_pb2.ListTeamsRequest(), timeout=CALL_DEADLINE_SECONDS)
    return [convert.team(t) for t in reply.teams]


@router.post("/reps", status_code=201, response_model=schemas.RepOut)
async def create_rep(body: schemas.RepIn, _caller: AdminDep, lead_client: LeadClientDep) -> schemas.RepOut:
    """Add a sales rep to a team."""
    reply = await lead_client.CreateRep(
        lead_pb2.CreateRepRequest(name=body.name, team_id=body.team_id, email=body.email or ""),
        timeout=CALL_DEADLINE_SECONDS,
    )
    return convert.rep(reply.rep)


@router.get("/reps", response_model=list[schemas.RepOut])
async def list_reps(
    _caller: TeamReaderDep,
    lead_client: LeadClientDep,
    team_id: Annotated[str | None, Query(max_length=200, description="Only the reps of this team")] = None,
) -> list[schemas.RepOut]:
    """Sales reps, optionally of one team."""
    reply = await lead_client.ListReps(
        lead_pb2.ListRepsRequest(team_id=(team_id or "").strip()), timeout=CALL_DEADLINE_SECONDS
    )
    return [convert.rep(r) for r in reply.reps]


async def _set_active(lead_client: LeadClientDep, rep_id: str, active: bool) -> schemas.RepOut:
    reply = await lead_client.SetRepActive(
        lead_pb2.SetRepActiveRequest(rep_id=rep_id, active=active), timeout=CALL_DEADLINE_SECONDS
    )
    return convert.rep(reply.rep)


@router.post("/reps/{rep_id}/deactivate", response_model=schemas.RepOut)
async def deactivate_rep(rep_id: RepIdDep, _caller: AdminDep, lead_client: LeadClientDep) -> schemas.RepOut:
    """Stop routing leads to a rep."""
    return await _set_active(lead_client, rep_id, False)


@router.post("/reps/{rep_id}/activate", response_model=schemas.RepOut)
async def activate_rep(rep_id: RepIdDep, _caller: AdminDep, lead_client: LeadClientDep) -> schemas.RepOut:
    """Route leads to a rep again."""
    return await _set_active(lead_client, rep_id, True)
