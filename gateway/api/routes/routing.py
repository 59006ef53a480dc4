"""Routing rules as data (validate, dry-run, publish), routing explanations, manual moves, the pool, quarantine."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Path, Query
from google.protobuf.json_format import MessageToDict
from pydantic import BaseModel, Field

from crm.lead.v1 import lead_pb2
from gateway import convert, schemas
from gateway.api.deps import (
    LeadClientDep,
    LeadIdDep,
    LeadReadDep,
    LeadUpdateDep,
    PoolActDep,
    PoolReadDep,
    QuarantineActDep,
    QuarantineReadDep,
    RoutingDraftDep,
    RoutingReadDep,
    RoutingUpdateDep,
)
from gateway.core.peers import CALL_DEADLINE_SECONDS
from gateway.core.security import acting_rep_id
from gateway.schemas import RequestModel, Short

router = APIRouter(prefix="/v1", tags=["routing"])

Strategy = Literal["round_robin", "least_open", "skills_match"]
STRATEGY_ENUM = {
    "round_robin": lead_pb2.ROUTING_STRATEGY_ROUND_ROBIN,
    "least_open": lead_pb2.ROUTING_STRATEGY_LEAST_OPEN,
    "skills_match": lead_pb2.ROUTING_STRATEGY_SKILLS_MATCH,
}
STRATEGY_NAME = {v: k for k, v in STRATEGY_ENUM.items()} | {lead_pb2.ROUTING_STRATEGY_UNSPECIFIED: "round_robin"}


class RuleIn(RequestModel):
    """One rule: leads matching every condition (and the score range) go to the team, or to the pool."""

    id: Short | None = None
    name: Annotated[str, Field(min_length=1, max_length=200)]
    priority: int = Field(ge=0, le=1_000_000, description="Lower is tried first")
    conditions: dict[Short, list[Short]] = Field(
        default_factory=dict,
        description="Lead field -> values it must equal one of: province, region, city, industry, "
        "product_interest, channel, customer_id, customer_tier, has_owner (true/false)",
    )
    min_score: int = Field(default=0, ge=0, le=1_000_000, description="0: no lower bound")
    max_score: int = Field(default=0, ge=0, le=1_000_000, description="0: no upper bound")
    team_id: Short | None = None
    overflow_team_id: Short | None = Field(default=None, description="Tried when nobody in team_id is eligible")
    to_pool: bool = False
    strategy: Strategy = "round_robin"
    required_skills: list[Short] = Field(default_factory=list, description="For skills_match")


class RuleOut(BaseModel):
    id: str
    name: str
    priority: int
    conditions: dict[str, list[str]]
    min_score: int
    max_score: int
    team_id: str | None
    overflow_team_id: str | None
    to_pool: bool
    strategy: str
    required_skills: list[str]


class RuleSetOut(BaseModel):
    version: int
    rules: list[RuleOut]


class RuleSetIn(RequestModel):
    rules: list[RuleIn] = Field(max_length=500)
    expected_version: int | None = Field(default=None, ge=1, le=2**31 - 1, description="Refuse if the live version moved on")


class DraftIn(RequestModel):
    rules: list[RuleIn] = Field(max_length=500)


class ProblemOut(BaseModel):
    rule: str
    kind: str = Field(description="overlap, unreachable, no_eligible_rep, cycle or invalid")
    message: str


class ValidationOut(BaseModel):
    publishable: bool
    problems: list[ProblemOut]


class DryRunIn(RequestModel):
    rules: list[RuleIn] = Field(max_length=500)
    days: int = Field(default=7, ge=1, le=90, description="Replay the leads of the last N days")
    leads: list[schemas.LeadIn] = Field(default_factory=list, max_length=5000, description="Or route these instead")


class OutcomeOut(BaseModel):
    lead_id: str
    rule_name: str | None
    team_id: str | None
    rep_id: str | None
    to_pool: bool
    explanation: str
    current_rep_id: str | None


class DryRunOut(BaseModel):
    outcomes: list[OutcomeOut]
    load_per_rep: dict[str, int]
    problems: list[ProblemOut]


class IneligibleOut(BaseModel):
    rep_id: str
    reason: str


class DecisionOut(BaseModel):
    at: datetime | None
    trigger: str
    rule_id: str | None
    rule_name: str | None
    rule_version: int
    strategy: str
    team_id: str | None
    chosen_rep_id: str | None
    to_pool: bool
    eligible_rep_ids: list[str]
    ineligible: list[IneligibleOut]
    explanation: str


class RoutingOut(BaseModel):
    """Why a lead is where it is: its score, its clock and every routing decision taken for it."""

    lead_id: str
    status: str
    assignee_id: str | None
    team_id: str | None
    score: int
    score_parts: dict[str, float]
    location_inferred: bool
    claim_deadline_at: datetime | None
    first_contact_deadline_at: datetime | None
    pool_return_at: datetime | None
    touches: int
    decisions: list[DecisionOut]


class ReassignIn(RequestModel):
    rep_id: Annotated[str, Field(min_length=1, max_length=200)]
    reason: Short = "manual"


class PoolClaimIn(RequestModel):
    rep_id: Short | None = None


class PooledLeadOut(BaseModel):
    id: str
    name: str | None
    company: str | None
    masked_phone: str | None
    masked_email: str | None
    province: str | None
    city: str | None
    industry: str | None
    score: int
    pooled_at: datetime | None


class QuarantinedOut(BaseModel):
    id: str
    status: str
    reasons: list[str]
    received_at: datetime | None
    released_lead_id: str | None
    submitted: dict[str, object]


def _opt(value: str) -> str | None:
    return value or None


def _time(message: object, name: str) -> datetime | None:
    return getattr(message, name).ToDatetime() if message.HasField(name) else None  # type: ignore[attr-defined]


def rule_proto(rule: RuleIn) -> lead_pb2.RoutingRule:
    return lead_pb2.RoutingRule(
        id=rule.id or "",
        name=rule.name.strip(),
        priority=rule.priority,
        conditions={k: lead_pb2.StringList(values=v) for k, v in rule.conditions.items()},
        team_id=rule.team_id or "",
        strategy=STRATEGY_ENUM[rule.strategy],
        to_pool=rule.to_pool,
        overflow_team_id=rule.overflow_team_id or "",
        min_score=rule.min_score,
        max_score=rule.max_score,
        required_skills=rule.required_skills,
    )


def rule_out(rule: lead_pb2.RoutingRule) -> RuleOut:
    return RuleOut(
        id=rule.id,
        name=rule.name,
        priority=rule.priority,
        conditions={k: list(v.values) for k, v in rule.conditions.items()},
        min_score=rule.min_score,
        max_score=rule.max_score,
        team_id=_opt(rule.team_id),
        overflow_team_id=_opt(rule.overflow_team_id),
        to_pool=rule.to_pool,
        strategy=STRATEGY_NAME.get(rule.strategy, "round_robin"),
        required_skills=list(rule.required_skills),
    )


def _problems(problems: object) -> list[ProblemOut]:
    return [ProblemOut(rule=p.rule, kind=p.kind, message=p.message) for p in problems]  # type: ignore[attr-defined]


@router.get("/routing/rules", response_model=RuleSetOut)
async def get_rules(_caller: RoutingReadDep, lead_client: LeadClientDep) -> RuleSetOut:
    """The live rule set and its version."""
    reply = await lead_client.ListRoutingRules(lead_pb2.ListRoutingRulesRequest(), timeout=CALL_DEADLINE_SECONDS)
    return RuleSetOut(version=reply.version, rules=[rule_out(r) for r in reply.rules])


@router.put("/routing/rules", response_model=RuleSetOut)
async def publish_rules(body: RuleSetIn, caller: RoutingUpdateDep, lead_client: LeadClientDep) -> RuleSetOut:
    """Validate a whole rule set and make it the live version (422 names every problem)."""
    reply = await lead_client.PublishRoutingRules(
        lead_pb2.PublishRoutingRulesRequest(
            rules=[rule_proto(r) for r in body.rules],
            expected_version=body.expected_version or 0,
            published_by=caller.name or caller.role,
        ),
        timeout=CALL_DEADLINE_SECONDS,
    )
    return RuleSetOut(version=reply.version, rules=[rule_out(r) for r in reply.rules])


@router.post("/routing/rules/validate", response_model=ValidationOut)
async def validate_rules(body: DraftIn, _caller: RoutingDraftDep, lead_client: LeadClientDep) -> ValidationOut:
    """What would stop a draft rule set from being published."""
    reply = await lead_client.ValidateRoutingRules(
        lead_pb2.ValidateRoutingRulesRequest(rules=[rule_proto(r) for r in body.rules]), timeout=CALL_DEADLINE_SECONDS
    )
    return ValidationOut(publishable=not reply.problems, problems=_problems(reply.problems))


@router.post("/routing/dry-run", response_model=DryRunOut)
async def dry_run(body: DryRunIn, _caller: RoutingDraftDep, lead_client: LeadClientDep) -> DryRunOut:
    """Where recent (or posted) leads would go under a draft rule set, and the load per rep; stores nothing."""
    reply = await lead_client.DryRunRouting(
        lead_pb2.DryRunRoutingRequest(
            rules=[rule_proto(r) for r in body.rules],
            days=body.days,
            leads=[convert.lead_input(lead) for lead in body.leads],
        ),
        timeout=CALL_DEADLINE_SECONDS * 3,
    )
    return DryRunOut(
        outcomes=[
            OutcomeOut(
                lead_id=o.lead_id,
                rule_name=_opt(o.rule_name),
                team_id=_opt(o.team_id),
                rep_id=_opt(o.rep_id),
                to_pool=o.to_pool,
                explanation=o.explanation,
                current_rep_id=_opt(o.current_rep_id),
            )
            for o in reply.outcomes
        ],
        load_per_rep=dict(reply.load_per_rep),
        problems=_problems(reply.problems),
    )


@router.get("/leads/{lead_id}/routing", response_model=RoutingOut, tags=["leads"])
async def explain_routing(lead_id: LeadIdDep, _caller: LeadReadDep, lead_client: LeadClientDep) -> RoutingOut:
    """Which rule matched, who was eligible and why others were not, which strategy picked the assignee."""
    lead = (await lead_client.GetLead(lead_pb2.GetLeadRequest(lead_id=lead_id), timeout=CALL_DEADLINE_SECONDS)).lead
    reply = await lead_client.ExplainRouting(
        lead_pb2.ExplainRoutingRequest(lead_id=lead_id), timeout=CALL_DEADLINE_SECONDS
    )
    return RoutingOut(
        lead_id=lead.id,
        status=convert.lead(lead).status,
        assignee_id=_opt(lead.assignee_id),
        team_id=_opt(lead.team_id),
        score=lead.score,
        score_parts=dict(lead.score_parts),
        location_inferred=lead.location_inferred,
        claim_deadline_at=_time(lead, "claim_deadline_at"),
        first_contact_deadline_at=_time(lead, "first_contact_deadline_at"),
        pool_return_at=_time(lead, "pool_return_at"),
        touches=lead.touches,
        decisions=[
            DecisionOut(
                at=_time(d, "at"),
                trigger=d.trigger,
                rule_id=_opt(d.rule_id),
                rule_name=_opt(d.rule_name),
                rule_version=d.rule_version,
                strategy=d.strategy,
                team_id=_opt(d.team_id),
                chosen_rep_id=_opt(d.chosen_rep_id),
                to_pool=d.to_pool,
                eligible_rep_ids=list(d.eligible_rep_ids),
                ineligible=[IneligibleOut(rep_id=i.rep_id, reason=i.reason) for i in d.ineligible],
                explanation=d.explanation,
            )
            for d in reply.decisions
        ],
    )


@router.post("/leads/{lead_id}/reassign", response_model=schemas.LeadOut, tags=["leads"])
async def reassign(
    lead_id: LeadIdDep, body: ReassignIn, _caller: LeadUpdateDep, lead_client: LeadClientDep
) -> schemas.LeadOut:
    """Move a lead to another rep by hand; the move is recorded and both reps' manager is told."""
    reply = await lead_client.ReassignLead(
        lead_pb2.ReassignLeadRequest(lead_id=lead_id, to_rep_id=body.rep_id, reason=body.reason),
        timeout=CALL_DEADLINE_SECONDS,
    )
    return convert.lead(reply.lead)


@router.get("/pool", response_model=list[PooledLeadOut], tags=["pool"])
async def list_pool(_caller: PoolReadDep, lead_client: LeadClientDep) -> list[PooledLeadOut]:
    """Leads in the public pool, best score first; contact details stay masked until claimed."""
    reply = await lead_client.ListPool(lead_pb2.ListPoolRequest(), timeout=CALL_DEADLINE_SECONDS)
    return [
        PooledLeadOut(
            id=p.id,
            name=_opt(p.name),
            company=_opt(p.company),
            masked_phone=_opt(p.masked_phone),
            masked_email=_opt(p.masked_email),
            province=_opt(p.province),
            city=_opt(p.city),
            industry=_opt(p.industry),
            score=p.score,
            pooled_at=_time(p, "pooled_at"),
        )
        for p in reply.leads
    ]


@router.post("/pool/{lead_id}/claim", response_model=schemas.LeadOut, tags=["pool"])
async def claim_from_pool(
    lead_id: LeadIdDep,
    caller: PoolActDep,
    lead_client: LeadClientDep,
    body: PoolClaimIn | None = Body(default=None),
) -> schemas.LeadOut:
    """Take a lead from the pool (up to the rep's holding limit, not during a cool-down on it)."""
    rep_id = acting_rep_id(caller, body.rep_id if body else None)
    reply = await lead_client.ClaimFromPool(
        lead_pb2.ClaimFromPoolRequest(lead_id=lead_id, rep_id=rep_id), timeout=CALL_DEADLINE_SECONDS
    )
    return convert.lead(reply.lead)


def _quarantined(q: lead_pb2.QuarantinedSubmission) -> QuarantinedOut:
    return QuarantinedOut(
        id=q.id,
        status=q.status,
        reasons=list(q.reasons),
        received_at=_time(q, "received_at"),
        released_lead_id=_opt(q.released_lead_id),
        submitted=MessageToDict(q.input, preserving_proto_field_name=True),
    )


@router.get("/quarantine", response_model=list[QuarantinedOut], tags=["quarantine"])
async def list_quarantine(
    _caller: QuarantineReadDep,
    lead_client: LeadClientDep,
    all_: Annotated[bool, Query(alias="all", description="Released ones too")] = False,
) -> list[QuarantinedOut]:
    """Submissions kept because they failed a business rule, with the reasons; nothing is ever dropped."""
    reply = await lead_client.ListQuarantine(lead_pb2.ListQuarantineRequest(all=all_), timeout=CALL_DEADLINE_SECONDS)
    return [_quarantined(q) for q in reply.submissions]


@router.post("/quarantine/{quarantine_id}/release", response_model=schemas.LeadOut, tags=["quarantine"])
async def release_quarantined(
    quarantine_id: Annotated[str, Path(max_length=64)], _caller: QuarantineActDep, lead_client: LeadClientDep
) -> schemas.LeadOut:
    """An operator vouches for a quarantined submission: it becomes a lead and is routed."""
    reply = await lead_client.ReleaseQuarantined(
        lead_pb2.ReleaseQuarantinedRequest(quarantine_id=quarantine_id), timeout=CALL_DEADLINE_SECONDS
    )
    return convert.lead(reply.lead)


def quarantined_capture(reply: lead_pb2.CaptureLeadResponse) -> dict[str, object]:
    """The body of a 202 for a capture kept in quarantine."""
    q = reply.quarantine
    return {"quarantined": True, "quarantine_id": q.id, "reasons": list(q.reasons), "status": q.status}
