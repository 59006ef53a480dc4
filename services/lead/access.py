"""Who may do what with leads: the matrix's role check on every RPC, ownership and masking per lead."""

from __future__ import annotations

from crm.lead.v1 import lead_pb2
from crm_common import audit
from crm_common.access import Action, Decision, Owner, Resource, caller, decide, effective, guard
from crm_common.errors import NotFound, PermissionDenied
from crm_common.identity import Principal, Role
from crm_common.service import Runtime
from lead.domain import mask_email, mask_phone

R, X = Resource, Action
# None: the handler decides per lead (ownership), below.
METHODS: dict[str, tuple[Resource, Action] | None] = {
    "CaptureLead": (R.LEAD, X.CREATE),
    "GetLead": None,
    "GetLeadTraceContext": (R.LEAD, X.READ),
    "ClaimLead": None,
    "RecordContact": None,
    "CreateTeam": (R.TEAM, X.UPDATE),
    "ListTeams": (R.TEAM, X.READ),
    "CreateRep": (R.REP, X.UPDATE),
    "ListReps": (R.REP, X.READ),
    "SetRepActive": (R.REP, X.UPDATE),
    "PutRoutingRule": (R.ROUTING_RULES, X.UPDATE),
    "ListRoutingRules": (R.ROUTING_RULES, X.READ),
    "UpdateTeam": (R.TEAM, X.UPDATE),
    "UpdateRep": (R.REP, X.UPDATE),
    "ValidateRoutingRules": (R.ROUTING_RULES, X.MATCH),
    "PublishRoutingRules": (R.ROUTING_RULES, X.UPDATE),
    "DryRunRouting": (R.ROUTING_RULES, X.MATCH),
    "ExplainRouting": None,
    "ReassignLead": None,
    "ListQuarantine": (R.QUARANTINE, X.READ),
    "ReleaseQuarantined": (R.QUARANTINE, X.ACT),
    "ListPool": (R.POOL, X.READ),
    "ClaimFromPool": (R.POOL, X.ACT),
}
guarded = guard(METHODS)

PERSONAL = ("phone", "email", "notes")


def owner_of(lead: lead_pb2.Lead) -> Owner:
    """A lead belongs to its assignee and the assignee's team."""
    return Owner.of(reps=[lead.assignee_id], teams=[lead.team_id])


def readable(lead: lead_pb2.Lead, action: Action = Action.READ) -> Decision:
    """The caller's decision for one lead; a lead the caller may not see is not found (its existence is not told)."""
    if action is Action.READ and lead.status == lead_pb2.LEAD_STATUS_POOL:
        # A pooled lead is nobody's: it is read as the pool is, masked for everyone until claimed.
        decision = decide(caller(), Resource.POOL, Action.READ)
    else:
        decision = decide(caller(), Resource.LEAD, action, owner=owner_of(lead))
    if not decision.allowed:
        if action is Action.READ:
            raise NotFound(f"lead {lead.id} not found")
        raise PermissionDenied(decision.reason)
    return decision


async def shown(runtime: Runtime, lead: lead_pb2.Lead, decision: Decision | None = None) -> lead_pb2.Lead:
    """The lead as the caller may see it: personal data masked unless granted; a granted read is audited."""
    decision = decision or readable(lead)
    data = lead.input
    if not decision.personal:
        data.name = data.name[:1] + "*" if data.name else ""
        data.phone = mask_phone(data.phone) if data.phone else ""
        data.email = mask_email(data.email) if data.email else ""
        data.notes = ""
        # The customer behind a lead is personal data too: its id would lead to the full record.
        lead.customer_id = ""
        return lead
    fields = [f for f in PERSONAL if getattr(data, f) and "*" not in getattr(data, f)]
    await audit.record_read(runtime, caller(), resource="lead", record_ids=[lead.id], fields=fields)
    return lead


def acting_rep(principal: Principal, requested: str) -> None:
    """A sales rep claims and contacts only as itself (the rep named in the request must be the caller)."""
    who = effective(principal)
    if who.role is Role.SALES_REP and requested != who.rep_id:
        raise PermissionDenied("a sales rep acts only as itself")


def team_reps(reps: list[lead_pb2.Rep]) -> list[lead_pb2.Rep]:
    """The reps the caller may list: a manager only its teams' (with their e-mail), others as the matrix says."""
    principal = caller()
    return [r for r in reps if decide(principal, Resource.REP, Action.READ, owner=Owner.of(teams=[r.team_id])).allowed]


async def quarantine_read(runtime: Runtime, submissions: list[lead_pb2.QuarantinedSubmission]) -> None:
    """Held submissions carry the raw phone and e-mail: the read is audited."""
    for held in submissions:
        fields = [f for f in PERSONAL if getattr(held.input, f)]
        await audit.record_read(runtime, caller(), resource="quarantine", record_ids=[held.id], fields=fields)
