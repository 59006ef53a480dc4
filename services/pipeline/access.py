"""Who may see and change which opportunity: a rep its own (the owner), a manager its teams', as the matrix says."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from crm.pipeline.v1 import pipeline_pb2
from crm_common.access import Action, Owner, Resource, caller, decide, effective, guard
from crm_common.errors import NotFound, PermissionDenied
from crm_common.identity import Principal

OPP, P, AP, F = Resource.OPPORTUNITY, Resource.PIPELINE, Resource.APPROVAL, Resource.FORECAST

# Reads and changes of one opportunity decide per opportunity (its owner and team), below; None entries do.
guarded = guard(
    {
        "GetOpportunity": None,
        "ListOpportunities": None,
        "PutPipeline": (P, Action.UPDATE),
        "GetPipeline": (P, Action.READ),
        "CreateOpportunity": (OPP, Action.CREATE),
        "UpdateOpportunity": (OPP, Action.UPDATE),
        "RecordContact": (OPP, Action.ACT),
        "AddFile": (OPP, Action.ACT),
        "RecordConfirmation": (OPP, Action.ACT),
        "MoveStage": (OPP, Action.ACT),
        "ImportStageChanges": (OPP, Action.ACT),
        "SetSubState": (OPP, Action.ACT),
        "SetBlockReason": (OPP, Action.ACT),
        # An override is an admin's request; a second admin approves it.
        "RequestOverride": (P, Action.UPDATE),
        "ListApprovals": (AP, Action.READ),
        "DecideApproval": (AP, Action.ACT),
        "ListOpportunityNotifications": (OPP, Action.READ),
        "GetForecast": (F, Action.READ),
    }
)


def visible(opportunities: Sequence[pipeline_pb2.Opportunity]) -> list[pipeline_pb2.Opportunity]:
    """The opportunities the caller may see (an opportunity holds ids and a stage, no personal data)."""
    principal = caller()
    return [
        o
        for o in opportunities
        if decide(principal, OPP, Action.READ, owner=Owner.of(reps=[o.owner_id], teams=[o.team_id])).allowed
    ]


def one(opportunity: pipeline_pb2.Opportunity) -> pipeline_pb2.Opportunity:
    """One opportunity, or not found when the caller may not see it."""
    if not visible([opportunity]):
        raise NotFound(f"opportunity {opportunity.id} not found")
    return opportunity


def owner_of(row: Any) -> Owner:
    return Owner.of(reps=[row.owner_id], teams=[row.team_id])


def require(principal: Principal, row: Any, action: Action) -> None:
    """The caller may do `action` on this opportunity: not found when it may not even see it, else denied."""
    owner = owner_of(row)
    if not decide(principal, OPP, Action.READ, owner=owner).allowed:
        raise NotFound(f"opportunity {row.id} not found")
    verdict = decide(principal, OPP, action, owner=owner)
    if not verdict.allowed:
        raise PermissionDenied(verdict.reason)


def actor(principal: Principal) -> str:
    """Who did it, as history and events record it: the user a service acts for, else the caller."""
    return effective(principal).subject
