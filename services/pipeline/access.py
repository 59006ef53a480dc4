"""Who may see which opportunity: a rep its own (the owner), others as the access matrix says."""

from __future__ import annotations

from collections.abc import Sequence

from crm.pipeline.v1 import pipeline_pb2
from crm_common.access import Action, Owner, Resource, caller, decide, guard
from crm_common.errors import NotFound

# Both reads decide per opportunity (its owner), below.
guarded = guard({"GetOpportunity": None, "ListOpportunities": None})


def visible(opportunities: Sequence[pipeline_pb2.Opportunity]) -> list[pipeline_pb2.Opportunity]:
    """The opportunities the caller may see (an opportunity holds ids and a stage, no personal data)."""
    principal = caller()
    return [
        o
        for o in opportunities
        if decide(principal, Resource.OPPORTUNITY, Action.READ, owner=Owner.of(reps=[o.owner_id])).allowed
    ]


def one(opportunity: pipeline_pb2.Opportunity) -> pipeline_pb2.Opportunity:
    """One opportunity, or not found when the caller may not see it."""
    if not visible([opportunity]):
        raise NotFound(f"opportunity {opportunity.id} not found")
    return opportunity
