"""gRPC handlers of crm.lead.v1.LeadService: translate proto to the journey and back."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import grpc
from sqlalchemy import Row

from crm.lead.v1 import lead_pb2, lead_pb2_grpc
from crm_common.errors import FieldViolation, InvalidArgument, NotFound
from crm_common.service import Runtime
from lead import journey
from lead import repository as repo
from lead.domain import validate_conditions, validate_lead
from lead.journey import ts

STATUS = {
    "new": lead_pb2.LEAD_STATUS_NEW,
    "assigned": lead_pb2.LEAD_STATUS_ASSIGNED,
    "claimed": lead_pb2.LEAD_STATUS_CLAIMED,
    "contacted": lead_pb2.LEAD_STATUS_CONTACTED,
}
STRATEGIES = {lead_pb2.ROUTING_STRATEGY_ROUND_ROBIN: "round_robin"}


def lead_message(row: Row[Any], timeline: list[Row[Any]]) -> lead_pb2.Lead:
    """The proto form of a stored lead and its timeline."""
    return lead_pb2.Lead(
        id=row.id,
        input=lead_pb2.LeadInput(
            name=row.name,
            phone=row.phone_e164,
            email=row.email,
            company=row.company,
            province=row.province,
            city=row.city,
            industry=row.industry,
            product_interest=row.product_interest,
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
    )


def rep_message(row: Row[Any]) -> lead_pb2.Rep:
    return lead_pb2.Rep(id=row.id, name=row.name, team_id=row.team_id, active=row.active, email=row.email)


def rule_message(row: Row[Any]) -> lead_pb2.RoutingRule:
    return lead_pb2.RoutingRule(
        id=row.id,
        name=row.name,
        priority=row.priority,
        conditions={k: lead_pb2.StringList(values=v) for k, v in row.conditions.items()},
        team_id=row.team_id,
        strategy=lead_pb2.ROUTING_STRATEGY_ROUND_ROBIN,
    )


class LeadServicer(lead_pb2_grpc.LeadServiceServicer):
    """The lead service's gRPC API."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def _load(self, lead_id: str) -> lead_pb2.Lead:
        canonical = repo.parse_id(lead_id)
        async with self.runtime.db.connect() as conn:
            row = await repo.get_lead(conn, lead_id=canonical) if canonical else None
            if row is None:
                raise NotFound(f"lead {lead_id} not found")
            return lead_message(row, await repo.list_timeline(conn, lead_id=row.id))

    async def CaptureLead(self, request: lead_pb2.CaptureLeadRequest, context: grpc.aio.ServicerContext) -> Any:
        lead = validate_lead(request.lead, region=self.runtime.settings.default_region)
        key = request.idempotency_key.strip() or None
        if key is not None and len(key) > 200:
            raise InvalidArgument([FieldViolation("idempotency_key", "must be at most 200 characters")])
        lead_id, created = await journey.capture(self.runtime, lead, key)
        return lead_pb2.CaptureLeadResponse(lead=await self._load(lead_id), created=created)

    async def GetLead(self, request: lead_pb2.GetLeadRequest, context: grpc.aio.ServicerContext) -> Any:
        return lead_pb2.GetLeadResponse(lead=await self._load(request.lead_id))

    async def GetLeadTraceContext(
        self, request: lead_pb2.GetLeadTraceContextRequest, context: grpc.aio.ServicerContext
    ) -> Any:
        canonical = repo.parse_id(request.lead_id)
        async with self.runtime.db.connect() as conn:
            row = await repo.get_lead(conn, lead_id=canonical) if canonical else None
        if row is None:
            raise NotFound(f"lead {request.lead_id} not found")
        return lead_pb2.GetLeadTraceContextResponse(traceparent=row.traceparent)

    async def ClaimLead(self, request: lead_pb2.ClaimLeadRequest, context: grpc.aio.ServicerContext) -> Any:
        lead_id = await journey.claim(self.runtime, request.lead_id, request.rep_id)
        return lead_pb2.ClaimLeadResponse(lead=await self._load(lead_id))

    async def RecordContact(self, request: lead_pb2.RecordContactRequest, context: grpc.aio.ServicerContext) -> Any:
        lead_id, first = await journey.record_contact(
            self.runtime, request.lead_id, request.rep_id, request.channel, request.summary
        )
        return lead_pb2.RecordContactResponse(lead=await self._load(lead_id), first_contact=first)

    async def CreateTeam(self, request: lead_pb2.CreateTeamRequest, context: grpc.aio.ServicerContext) -> Any:
        name = request.name.strip()
        if not name or len(name) > 200:
            raise InvalidArgument([FieldViolation("name", "is required, at most 200 characters")])
        async with self.runtime.db.transaction() as conn:
            row = await repo.insert_team(conn, name=name, at=datetime.now(UTC))
        if row is None:
            raise InvalidArgument([FieldViolation("name", f"a team named {name!r} exists already")])
        return lead_pb2.CreateTeamResponse(team=lead_pb2.Team(id=row.id, name=row.name))

    async def ListTeams(self, request: lead_pb2.ListTeamsRequest, context: grpc.aio.ServicerContext) -> Any:
        async with self.runtime.db.connect() as conn:
            rows = await repo.list_teams(conn)
        return lead_pb2.ListTeamsResponse(teams=[lead_pb2.Team(id=r.id, name=r.name) for r in rows])

    async def CreateRep(self, request: lead_pb2.CreateRepRequest, context: grpc.aio.ServicerContext) -> Any:
        violations = []
        name = request.name.strip()
        if not name or len(name) > 200:
            violations.append(FieldViolation("name", "is required, at most 200 characters"))
        team_id = repo.parse_id(request.team_id)
        async with self.runtime.db.transaction() as conn:
            if team_id is None or await repo.get_team(conn, team_id=team_id) is None:
                violations.append(FieldViolation("team_id", "must name an existing team"))
            if violations:
                raise InvalidArgument(violations)
            assert team_id is not None
            row = await repo.insert_rep(
                conn, name=name, email=request.email.strip(), team_id=team_id, at=datetime.now(UTC)
            )
        return lead_pb2.CreateRepResponse(rep=rep_message(row))

    async def ListReps(self, request: lead_pb2.ListRepsRequest, context: grpc.aio.ServicerContext) -> Any:
        async with self.runtime.db.connect() as conn:
            rows = await repo.list_reps(conn, team_id=repo.parse_id(request.team_id) if request.team_id else None)
        return lead_pb2.ListRepsResponse(reps=[rep_message(r) for r in rows])

    async def SetRepActive(self, request: lead_pb2.SetRepActiveRequest, context: grpc.aio.ServicerContext) -> Any:
        rep_id = repo.parse_id(request.rep_id)
        async with self.runtime.db.transaction() as conn:
            row = await repo.set_rep_active(conn, rep_id=rep_id, active=request.active) if rep_id else None
        if row is None:
            raise NotFound(f"rep {request.rep_id} not found")
        return lead_pb2.SetRepActiveResponse(rep=rep_message(row))

    async def PutRoutingRule(self, request: lead_pb2.PutRoutingRuleRequest, context: grpc.aio.ServicerContext) -> Any:
        rule = request.rule
        conditions = {name: list(values.values) for name, values in rule.conditions.items()}
        validate_conditions(conditions)
        violations = []
        if not rule.name.strip():
            violations.append(FieldViolation("rule.name", "is required"))
        if rule.strategy not in (lead_pb2.ROUTING_STRATEGY_UNSPECIFIED, *STRATEGIES):
            violations.append(FieldViolation("rule.strategy", "unknown strategy"))
        team_id = repo.parse_id(rule.team_id)
        async with self.runtime.db.transaction() as conn:
            if team_id is None or await repo.get_team(conn, team_id=team_id) is None:
                violations.append(FieldViolation("rule.team_id", "must name an existing team"))
            if violations:
                raise InvalidArgument(violations)
            assert team_id is not None
            row = await repo.upsert_rule(
                conn,
                rule_id=repo.parse_id(rule.id) if rule.id else None,
                name=rule.name.strip(),
                priority=rule.priority,
                conditions=conditions,
                team_id=team_id,
                strategy="round_robin",
                at=datetime.now(UTC),
            )
        return lead_pb2.PutRoutingRuleResponse(rule=rule_message(row))

    async def ListRoutingRules(
        self, request: lead_pb2.ListRoutingRulesRequest, context: grpc.aio.ServicerContext
    ) -> Any:
        async with self.runtime.db.connect() as conn:
            rows = await repo.list_rules(conn)
        return lead_pb2.ListRoutingRulesResponse(rules=[rule_message(r) for r in rows])
