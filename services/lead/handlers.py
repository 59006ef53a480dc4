"""gRPC handlers of crm.lead.v1.LeadService: translate proto to each room's use cases and queries, and back."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import grpc
from google.protobuf.json_format import MessageToDict, ParseDict
from sqlalchemy import Row

from crm.lead.v1 import lead_pb2, lead_pb2_grpc
from crm_common.errors import FieldViolation, InvalidArgument, NotFound
from crm_common.service import Runtime
from lead import access, records
from lead.capture import idempotency
from lead.capture import repository as capture_repo
from lead.capture import use_cases as capture_cases
from lead.domain import mask_email, mask_phone, validate_lead
from lead.ownership import repository as ownership_repo
from lead.ownership import use_cases as ownership_cases
from lead.routing import repository as routing_repo
from lead.routing import rules_admin
from lead.staff import departure
from lead.staff import repository as staff_repo
from lead.timestamps import ts

STATUS = {
    "new": lead_pb2.LEAD_STATUS_NEW,
    "assigned": lead_pb2.LEAD_STATUS_ASSIGNED,
    "claimed": lead_pb2.LEAD_STATUS_CLAIMED,
    "contacted": lead_pb2.LEAD_STATUS_CONTACTED,
    "pool": lead_pb2.LEAD_STATUS_POOL,
}


def lead_message(row: Row[Any], timeline: Sequence[Any]) -> lead_pb2.Lead:
    """The proto form of a stored lead and its timeline; a pooled lead's contact details are masked until claimed."""
    pooled = row.status == "pool"
    return lead_pb2.Lead(
        id=row.id,
        input=lead_pb2.LeadInput(
            name=row.name,
            phone=mask_phone(row.phone_e164) if pooled else row.phone_e164,
            email=mask_email(row.email) if pooled else row.email,
            company=row.company,
            province=row.province,
            city=row.city,
            industry=row.industry,
            product_interest=row.product_interest,
            customer_tier=row.customer_tier,
            notes=row.notes,
            source=lead_pb2.Source(
                channel=row.channel,
                utm_source=row.utm_source,
                utm_medium=row.utm_medium,
                utm_campaign=row.utm_campaign,
                campaign_id=row.campaign_id,
                referrer=row.referrer,
            ),
        ),
        status=STATUS[row.status],
        customer_id=row.customer_id or "",
        assignee_id=row.assignee_id or "",
        trace_id=row.trace_id,
        captured_at=ts(row.captured_at),
        assigned_at=ts(row.assigned_at),
        claimed_at=ts(row.claimed_at),
        first_contact_at=ts(row.first_contact_at),
        timeline=[lead_pb2.TimelineEntry(step=t.step, at=ts(t.at), detail=t.detail) for t in timeline],
        score=row.score,
        score_parts=row.score_parts,
        location_inferred=row.location_inferred,
        claim_deadline_at=ts(row.claim_deadline_at) if row.status == "assigned" else None,
        first_contact_deadline_at=ts(row.contact_deadline_at),
        pool_return_at=ts(row.pool_return_at) if row.status in ("claimed", "contacted") else None,
        team_id=row.team_id or "",
        touches=row.touches,
    )


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


rule_message = rules_admin.rule_message


def quarantine_message(row: Row[Any]) -> lead_pb2.QuarantinedSubmission:
    data = lead_pb2.LeadInput()
    ParseDict(row.input, data, ignore_unknown_fields=True)
    return lead_pb2.QuarantinedSubmission(
        id=row.id,
        input=data,
        reasons=row.reasons,
        status=row.status,
        received_at=ts(row.received_at),
        released_lead_id=row.released_lead_id or "",
    )


@access.guarded
class LeadServicer(lead_pb2_grpc.LeadServiceServicer):
    """The lead service's gRPC API."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def _load(self, lead_id: str) -> lead_pb2.Lead:
        canonical = records.parse_id(lead_id)
        async with self.runtime.db.read() as conn:
            row = await records.get_lead(conn, lead_id=canonical) if canonical else None
            if row is None:
                raise NotFound(f"lead {lead_id} not found")
            return lead_message(row, await records.list_timeline(conn, lead_id=row.id))

    async def CaptureLead(self, request: lead_pb2.CaptureLeadRequest, context: grpc.aio.ServicerContext) -> Any:
        lead = validate_lead(request.lead, region=self.runtime.settings.default_region)
        key = request.idempotency_key.strip() or None
        if key is not None and len(key) > 200:
            raise InvalidArgument([FieldViolation("idempotency_key", "must be at most 200 characters")])
        scope = idempotency.caller_scope(idempotency.named_scope(context))
        captured = await capture_cases.capture(self.runtime, lead, key, request.lead, scope=scope)
        if captured.quarantine is not None and captured.lead_id is None:
            return lead_pb2.CaptureLeadResponse(quarantined=True, quarantine=quarantine_message(captured.quarantine))
        assert captured.lead_id is not None
        if captured.lead is not None and captured.timeline is not None:
            lead_out = lead_message(captured.lead, captured.timeline)
        else:
            lead_out = await self._load(captured.lead_id)
        return lead_pb2.CaptureLeadResponse(lead=lead_out, created=captured.created, duplicate=captured.duplicate)

    async def GetLead(self, request: lead_pb2.GetLeadRequest, context: grpc.aio.ServicerContext) -> Any:
        return lead_pb2.GetLeadResponse(lead=await access.shown(self.runtime, await self._load(request.lead_id)))

    async def GetLeadTraceContext(
        self, request: lead_pb2.GetLeadTraceContextRequest, context: grpc.aio.ServicerContext
    ) -> Any:
        canonical = records.parse_id(request.lead_id)
        async with self.runtime.db.read() as conn:
            row = await records.get_lead(conn, lead_id=canonical) if canonical else None
        if row is None:
            raise NotFound(f"lead {request.lead_id} not found")
        return lead_pb2.GetLeadTraceContextResponse(traceparent=row.traceparent)

    async def ClaimLead(self, request: lead_pb2.ClaimLeadRequest, context: grpc.aio.ServicerContext) -> Any:
        access.acting_rep(access.caller(), request.rep_id)
        access.readable(await self._load(request.lead_id), access.Action.ACT)
        lead_id = await ownership_cases.claim(self.runtime, request.lead_id, request.rep_id)
        return lead_pb2.ClaimLeadResponse(lead=await access.shown(self.runtime, await self._load(lead_id)))

    async def RecordContact(self, request: lead_pb2.RecordContactRequest, context: grpc.aio.ServicerContext) -> Any:
        access.acting_rep(access.caller(), request.rep_id)
        access.readable(await self._load(request.lead_id), access.Action.ACT)
        lead_id, first = await ownership_cases.record_contact(
            self.runtime, request.lead_id, request.rep_id, request.channel, request.summary
        )
        lead_out = await access.shown(self.runtime, await self._load(lead_id))
        return lead_pb2.RecordContactResponse(lead=lead_out, first_contact=first)

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

    async def PutRoutingRule(self, request: lead_pb2.PutRoutingRuleRequest, context: grpc.aio.ServicerContext) -> Any:
        rule = await rules_admin.put_rule(self.runtime, request.rule, "PutRoutingRule")
        return lead_pb2.PutRoutingRuleResponse(rule=rule_message(rule))

    async def ListRoutingRules(
        self, request: lead_pb2.ListRoutingRulesRequest, context: grpc.aio.ServicerContext
    ) -> Any:
        async with self.runtime.db.connect() as conn:
            rows = await routing_repo.list_rules(conn)
            version = await routing_repo.live_version(conn)
        return lead_pb2.ListRoutingRulesResponse(rules=[rule_message(r) for r in rows], version=version)

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

    async def ValidateRoutingRules(
        self, request: lead_pb2.ValidateRoutingRulesRequest, context: grpc.aio.ServicerContext
    ) -> Any:
        async with self.runtime.db.connect() as conn:
            problems = await rules_admin.validate(conn, list(request.rules))
        return lead_pb2.ValidateRoutingRulesResponse(problems=problems)

    async def PublishRoutingRules(
        self, request: lead_pb2.PublishRoutingRulesRequest, context: grpc.aio.ServicerContext
    ) -> Any:
        version, rows = await rules_admin.publish(
            self.runtime, list(request.rules), request.expected_version, request.published_by.strip()[:200]
        )
        return lead_pb2.PublishRoutingRulesResponse(version=version, rules=[rule_message(r) for r in rows])

    async def DryRunRouting(self, request: lead_pb2.DryRunRoutingRequest, context: grpc.aio.ServicerContext) -> Any:
        return await rules_admin.dry_run(self.runtime, request)

    async def ExplainRouting(self, request: lead_pb2.ExplainRoutingRequest, context: grpc.aio.ServicerContext) -> Any:
        lead = await self._load(request.lead_id)
        access.readable(lead)
        async with self.runtime.db.connect() as conn:
            rows = await routing_repo.list_decisions(conn, lead_id=lead.id)
        return lead_pb2.ExplainRoutingResponse(decisions=[rules_admin.decision_message(r) for r in rows])

    async def ReassignLead(self, request: lead_pb2.ReassignLeadRequest, context: grpc.aio.ServicerContext) -> Any:
        access.readable(await self._load(request.lead_id), access.Action.UPDATE)
        lead_id = await ownership_cases.reassign(self.runtime, request.lead_id, request.to_rep_id, request.reason)
        return lead_pb2.ReassignLeadResponse(lead=await access.shown(self.runtime, await self._load(lead_id)))

    async def ListQuarantine(self, request: lead_pb2.ListQuarantineRequest, context: grpc.aio.ServicerContext) -> Any:
        async with self.runtime.db.connect() as conn:
            rows = await capture_repo.list_quarantine(conn, held_only=not request.all)
        submissions = [quarantine_message(r) for r in rows]
        await access.quarantine_read(self.runtime, submissions)
        return lead_pb2.ListQuarantineResponse(submissions=submissions)

    async def ReleaseQuarantined(
        self, request: lead_pb2.ReleaseQuarantinedRequest, context: grpc.aio.ServicerContext
    ) -> Any:
        lead_id = await capture_cases.release(self.runtime, request.quarantine_id)
        return lead_pb2.ReleaseQuarantinedResponse(lead=await self._load(lead_id))

    async def ListPool(self, request: lead_pb2.ListPoolRequest, context: grpc.aio.ServicerContext) -> Any:
        async with self.runtime.db.connect() as conn:
            rows = await ownership_repo.list_pool(conn)
        return lead_pb2.ListPoolResponse(
            leads=[
                lead_pb2.PooledLead(
                    id=r.id,
                    name=r.name,
                    company=r.company,
                    masked_phone=mask_phone(r.phone_e164),
                    masked_email=mask_email(r.email),
                    province=r.province,
                    city=r.city,
                    industry=r.industry,
                    score=r.score,
                    pooled_at=ts(r.pooled_at),
                )
                for r in rows
            ]
        )

    async def ClaimFromPool(self, request: lead_pb2.ClaimFromPoolRequest, context: grpc.aio.ServicerContext) -> Any:
        access.acting_rep(access.caller(), request.rep_id)
        lead_id = await ownership_cases.claim_from_pool(self.runtime, request.lead_id, request.rep_id)
        return lead_pb2.ClaimFromPoolResponse(lead=await access.shown(self.runtime, await self._load(lead_id)))
