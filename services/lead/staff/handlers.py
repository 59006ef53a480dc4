"""Staff's RPCs: teams and reps (create, list, update, activate, deactivate)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import grpc
from google.protobuf.json_format import MessageToDict, ParseDict
from sqlalchemy import Row

from crm.lead.v1 import lead_pb2
from crm_common.errors import FieldViolation, InvalidArgument, NotFound
from lead import access, records
from lead.ownership import repository as ownership_repo
from lead.routing import rules_admin
from lead.rpc import RoomHandlers
from lead.staff import departure
from lead.staff import repository as staff_repo
from lead.timestamps import ts


def rep_message(row: Row[Any], open_leads: int = 0) -> lead_pb2.Rep:
    return lead_pb2.Rep(
        id=row.id,
        name=row.name,
        team_id=row.team_id,
        active=row.active,
        email=row.email,
        capacity=row.capacity,
        skills=row.skills,
        weight=row.weight,
        on_leave=row.on_leave,
        leave_until=ts(row.leave_until),
        holding_limit=row.holding_limit,
        open_leads=open_leads,
    )


def team_message(row: Row[Any]) -> lead_pb2.Team:
    cal = row.calendar
    return lead_pb2.Team(
        id=row.id,
        name=row.name,
        manager_id=row.manager_id,
        calendar=ParseDict(cal, lead_pb2.WorkCalendar()) if cal else None,
        territories=row.territories,
    )


class StaffHandlers(RoomHandlers):
    """Staff's RPCs: mixed into LeadServicer, which checks access before each."""

    async def CreateTeam(self, request: lead_pb2.CreateTeamRequest, context: grpc.aio.ServicerContext) -> Any:
        name = request.name.strip()
        if not name or len(name) > 200:
            raise InvalidArgument([FieldViolation("name", "is required, at most 200 characters")])
        async with self.runtime.db.transaction() as conn:
            row = await staff_repo.insert_team(conn, name=name, at=datetime.now(UTC))
        if row is None:
            raise InvalidArgument([FieldViolation("name", f"a team named {name!r} exists already")])
        return lead_pb2.CreateTeamResponse(team=team_message(row))

    async def ListTeams(self, request: lead_pb2.ListTeamsRequest, context: grpc.aio.ServicerContext) -> Any:
        async with self.runtime.db.connect() as conn:
            rows = await staff_repo.list_teams(conn)
        return lead_pb2.ListTeamsResponse(teams=[team_message(r) for r in rows])

    async def CreateRep(self, request: lead_pb2.CreateRepRequest, context: grpc.aio.ServicerContext) -> Any:
        violations = []
        name = request.name.strip()
        if not name or len(name) > 200:
            violations.append(FieldViolation("name", "is required, at most 200 characters"))
        team_id = records.parse_id(request.team_id)
        async with self.runtime.db.transaction() as conn:
            if team_id is None or await staff_repo.get_team(conn, team_id=team_id) is None:
                violations.append(FieldViolation("team_id", "must name an existing team"))
            if violations:
                raise InvalidArgument(violations)
            assert team_id is not None
            row = await staff_repo.insert_rep(
                conn, name=name, email=request.email.strip(), team_id=team_id, at=datetime.now(UTC)
            )
        return lead_pb2.CreateRepResponse(rep=rep_message(row))

    async def ListReps(self, request: lead_pb2.ListRepsRequest, context: grpc.aio.ServicerContext) -> Any:
        async with self.runtime.db.connect() as conn:
            team_id = records.parse_id(request.team_id) if request.team_id else None
            rows = await staff_repo.list_reps(conn, team_id=team_id)
            loads = {
                r.id: r.open_leads
                for r in await staff_repo.reps_with_load(conn, team_ids=[team_id] if team_id else None)
            }
        reps = access.team_reps([rep_message(r, loads.get(r.id, 0)) for r in rows])
        return lead_pb2.ListRepsResponse(reps=reps)

    async def SetRepActive(self, request: lead_pb2.SetRepActiveRequest, context: grpc.aio.ServicerContext) -> Any:
        rep_id = records.parse_id(request.rep_id)
        if rep_id is None:
            raise NotFound(f"rep {request.rep_id} not found")
        if not request.active:
            successor = records.parse_id(request.successor_rep_id) if request.successor_rep_id else None
            if request.successor_rep_id and successor is None:
                raise InvalidArgument([FieldViolation("successor_rep_id", "must name another, active rep")])
            row, moved = await departure.deactivate(self.runtime, rep_id, successor)
            return lead_pb2.SetRepActiveResponse(rep=rep_message(row), moved_leads=moved)
        async with self.runtime.db.transaction() as conn:
            row = await staff_repo.set_rep_active(conn, rep_id=rep_id, active=True)
        if row is None:
            raise NotFound(f"rep {request.rep_id} not found")
        return lead_pb2.SetRepActiveResponse(rep=rep_message(row))

    async def UpdateTeam(self, request: lead_pb2.UpdateTeamRequest, context: grpc.aio.ServicerContext) -> Any:
        team_id = records.parse_id(request.team_id)
        values: dict[str, Any] = {}
        if request.HasField("calendar"):
            calendar = MessageToDict(request.calendar, preserving_proto_field_name=True)
            problems = rules_admin.calendar_problems(calendar)
            if problems:
                raise InvalidArgument([FieldViolation("calendar", p) for p in problems])
            values["calendar"] = calendar
        elif request.clear_calendar:
            values["calendar"] = None
        if request.HasField("manager_id"):
            if len(request.manager_id) > 200:
                raise InvalidArgument([FieldViolation("manager_id", "must be at most 200 characters")])
            values["manager_id"] = request.manager_id.strip()
        if request.replace_territories:
            values["territories"] = [t.strip() for t in request.territories if t.strip()]
        async with self.runtime.db.transaction() as conn:
            row = None
            if team_id and "territories" in values:
                conflicts = await rules_admin.territory_conflicts(
                    conn, team_id=team_id, territories=values["territories"]
                )
                if conflicts:
                    raise InvalidArgument(conflicts)
            if team_id:
                row = await staff_repo.update_team(conn, team_id=team_id, **values) if values else None
                row = row or await staff_repo.get_team(conn, team_id=team_id)
        if row is None:
            raise NotFound(f"team {request.team_id} not found")
        return lead_pb2.UpdateTeamResponse(team=team_message(row))

    async def UpdateRep(self, request: lead_pb2.UpdateRepRequest, context: grpc.aio.ServicerContext) -> Any:
        rep_id = records.parse_id(request.rep_id)
        values: dict[str, Any] = {}
        violations = []
        for name in ("capacity", "weight", "holding_limit"):
            if request.HasField(name):
                value = getattr(request, name)
                if value < 0 or value > 100000 or (name == "weight" and value < 1):
                    violations.append(FieldViolation(name, "out of range"))
                values[name] = value
        if request.HasField("on_leave"):
            values["on_leave"] = request.on_leave
            values["leave_until"] = (
                request.leave_until.ToDatetime(tzinfo=UTC) if request.HasField("leave_until") else None
            )
        if request.replace_skills:
            values["skills"] = sorted({s.strip() for s in request.skills if s.strip()})
        async with self.runtime.db.transaction() as conn:
            if request.HasField("team_id"):
                team_id = records.parse_id(request.team_id)
                if team_id is None or await staff_repo.get_team(conn, team_id=team_id) is None:
                    violations.append(FieldViolation("team_id", "must name an existing team"))
                values["team_id"] = team_id
            if violations:
                raise InvalidArgument(violations)
            row = await staff_repo.update_rep(conn, rep_id=rep_id, **values) if rep_id else None
            if row is None:
                raise NotFound(f"rep {request.rep_id} not found")
            open_leads = await ownership_repo.count_open(conn, rep_id=row.id)
        return lead_pb2.UpdateRepResponse(rep=rep_message(row, open_leads))
