"""Sales teams and reps, kept by the lead service (it routes leads to them)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Query
from google.protobuf.json_format import MessageToDict
from pydantic import Field

from crm.lead.v1 import lead_pb2
from gateway import convert, schemas
from gateway.api.deps import (
    LeadClientDep,
    RepIdDep,
    RepReadDep,
    RepUpdateDep,
    TeamReadDep,
    TeamUpdateDep,
)
from gateway.core.errors import Problem
from gateway.core.peers import CALL_DEADLINE_SECONDS
from gateway.schemas import RequestModel, Short

router = APIRouter(prefix="/v1", tags=["teams and reps"])


async def _team_id(team_id: Annotated[str, Path(description="The team's id (a UUID).")]) -> str:
    try:
        return str(uuid.UUID(team_id))
    except ValueError:
        raise Problem(404, f"no team {team_id[:64]}") from None


TeamIdDep = Annotated[str, Depends(_team_id)]


class CalendarIn(RequestModel):
    """When a team works; leads are routed to its reps only then, and claim windows count only that time."""

    timezone: Short = "Asia/Shanghai"
    workdays: list[int] = Field(default=[1, 2, 3, 4, 5], description="ISO weekdays, 1 = Monday")
    start: Short = Field(default="09:00", pattern=r"^\d{2}:\d{2}$")
    end: Short = Field(default="18:00", pattern=r"^\d{2}:\d{2}$")
    holidays: list[Short] = Field(default_factory=list, description="YYYY-MM-DD days off")
    makeup_workdays: list[Short] = Field(default_factory=list, description="YYYY-MM-DD days worked (调休)")


class TeamPatch(RequestModel):
    manager_id: Short | None = Field(default=None, description="Who is told when the team's leads need attention")
    calendar: CalendarIn | None = Field(default=None, description="null: the team works around the clock")
    territories: list[Short] = Field(default_factory=list)


class TeamDetailOut(schemas.TeamOut):
    manager_id: str | None = None
    calendar: dict[str, object] | None = None
    territories: list[str] = Field(default_factory=list)


class RepPatch(RequestModel):
    capacity: int | None = Field(default=None, ge=0, le=100000, description="Most open, unconverted leads")
    weight: int | None = Field(default=None, ge=1, le=1000, description="Share in weighted round-robin")
    skills: list[Short] | None = None
    on_leave: bool | None = None
    leave_until: schemas.Instant | None = None
    holding_limit: int | None = Field(default=None, ge=0, le=100000, description="Most open leads (assigned, claimed or contacted, from any source) the rep may hold and still claim from the pool")
    team_id: Short | None = None


class RepDetailOut(schemas.RepOut):
    capacity: int
    weight: int
    skills: list[str]
    on_leave: bool
    leave_until: datetime | None
    holding_limit: int
    open_leads: int


class DeactivateIn(RequestModel):
    successor_rep_id: Short | None = Field(default=None, description="Hand every open lead to this rep")


class DeactivatedRepOut(schemas.RepOut):
    moved_leads: int = Field(description="Open leads moved away (by the rules, or to the successor)")


def _team_detail(team: lead_pb2.Team) -> TeamDetailOut:
    return TeamDetailOut(
        **convert.team(team).model_dump(),
        manager_id=team.manager_id or None,
        calendar=MessageToDict(team.calendar, preserving_proto_field_name=True) if team.HasField("calendar") else None,
        territories=list(team.territories),
    )


def _rep_detail(rep: lead_pb2.Rep) -> RepDetailOut:
    return RepDetailOut(
        **convert.rep(rep).model_dump(),
        capacity=rep.capacity,
        weight=rep.weight,
        skills=list(rep.skills),
        on_leave=rep.on_leave,
        leave_until=rep.leave_until.ToDatetime() if rep.HasField("leave_until") else None,
        holding_limit=rep.holding_limit,
        open_leads=rep.open_leads,
    )


@router.post("/teams", status_code=201, response_model=TeamDetailOut)
async def create_team(body: schemas.TeamIn, _caller: TeamUpdateDep, lead_client: LeadClientDep) -> TeamDetailOut:
    """Add a sales team (no manager, calendar or territories yet: PATCH sets them)."""
    reply = await lead_client.CreateTeam(lead_pb2.CreateTeamRequest(name=body.name), timeout=CALL_DEADLINE_SECONDS)
    return _team_detail(reply.team)


@router.get("/teams", response_model=list[TeamDetailOut])
async def list_teams(_caller: TeamReadDep, lead_client: LeadClientDep) -> list[TeamDetailOut]:
    """Every sales team, with its manager, work calendar and territories."""
    reply = await lead_client.ListTeams(lead_pb2.ListTeamsRequest(), timeout=CALL_DEADLINE_SECONDS)
    return [_team_detail(t) for t in reply.teams]


@router.patch("/teams/{team_id}", response_model=TeamDetailOut)
async def update_team(
    team_id: TeamIdDep, body: TeamPatch, _caller: TeamUpdateDep, lead_client: LeadClientDep
) -> TeamDetailOut:
    """Set a team's manager, work calendar (holidays, make-up days) or territories; fields left out stay."""
    request = lead_pb2.UpdateTeamRequest(team_id=team_id)
    given = body.model_fields_set
    if "manager_id" in given:
        request.manager_id = body.manager_id or ""
    if "calendar" in given:
        if body.calendar is None:
            request.clear_calendar = True
        else:
            request.calendar.CopyFrom(lead_pb2.WorkCalendar(**body.calendar.model_dump()))
    if "territories" in given:
        request.territories.extend(body.territories)
        request.replace_territories = True
    reply = await lead_client.UpdateTeam(request, timeout=CALL_DEADLINE_SECONDS)
    return _team_detail(reply.team)


@router.patch("/reps/{rep_id}", response_model=RepDetailOut)
async def update_rep(rep_id: RepIdDep, body: RepPatch, _caller: RepUpdateDep, lead_client: LeadClientDep) -> RepDetailOut:
    """Change a rep's capacity, weight, skills, leave, holding limit or team (fields left out stay)."""
    request = lead_pb2.UpdateRepRequest(rep_id=rep_id)
    for name in ("capacity", "weight", "holding_limit", "on_leave", "team_id"):
        value = getattr(body, name)
        if value is not None:
            setattr(request, name, value)
    if body.leave_until is not None:
        request.leave_until.FromDatetime(body.leave_until)
    if body.skills is not None:
        request.skills.extend(body.skills)
        request.replace_skills = True
    reply = await lead_client.UpdateRep(request, timeout=CALL_DEADLINE_SECONDS)
    return _rep_detail(reply.rep)


@router.post("/reps", status_code=201, response_model=schemas.RepOut)
async def create_rep(body: schemas.RepIn, _caller: RepUpdateDep, lead_client: LeadClientDep) -> schemas.RepOut:
    """Add a sales rep to a team."""
    reply = await lead_client.CreateRep(
        lead_pb2.CreateRepRequest(name=body.name, team_id=body.team_id, email=body.email or ""),
        timeout=CALL_DEADLINE_SECONDS,
    )
    return convert.rep(reply.rep)


@router.get("/reps", response_model=list[RepDetailOut])
async def list_reps(
    _caller: RepReadDep,
    lead_client: LeadClientDep,
    team_id: Annotated[str | None, Query(max_length=200, description="Only the reps of this team")] = None,
) -> list[schemas.RepOut]:
    """Sales reps, optionally of one team, with capacity, skills, leave and open leads."""
    reply = await lead_client.ListReps(
        lead_pb2.ListRepsRequest(team_id=(team_id or "").strip()), timeout=CALL_DEADLINE_SECONDS
    )
    return [_rep_detail(r) for r in reply.reps]


async def _set_active(lead_client: LeadClientDep, rep_id: str, active: bool) -> schemas.RepOut:
    reply = await lead_client.SetRepActive(
        lead_pb2.SetRepActiveRequest(rep_id=rep_id, active=active), timeout=CALL_DEADLINE_SECONDS
    )
    return convert.rep(reply.rep)


@router.post("/reps/{rep_id}/deactivate", response_model=DeactivatedRepOut)
async def deactivate_rep(
    rep_id: RepIdDep,
    _caller: RepUpdateDep,
    lead_client: LeadClientDep,
    body: DeactivateIn | None = Body(default=None),
) -> DeactivatedRepOut:
    """Stop routing leads to a rep and move every open lead: by the rules, or to a named successor."""
    reply = await lead_client.SetRepActive(
        lead_pb2.SetRepActiveRequest(
            rep_id=rep_id, active=False, successor_rep_id=(body.successor_rep_id or "") if body else ""
        ),
        timeout=CALL_DEADLINE_SECONDS,
    )
    return DeactivatedRepOut(**convert.rep(reply.rep).model_dump(), moved_leads=reply.moved_leads)


@router.post("/reps/{rep_id}/activate", response_model=schemas.RepOut)
async def activate_rep(rep_id: RepIdDep, _caller: RepUpdateDep, lead_client: LeadClientDep) -> schemas.RepOut:
    """Route leads to a rep again."""
    return await _set_active(lead_client, rep_id, True)
