"""Stages of an opportunity, as data, and the rule that opens one from a contacted lead."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Stage:
    """One stage of the pipeline; closed stages end the opportunity."""

    name: str
    closed: bool = False


# In pipeline order; the first is where every opportunity opens.
STAGES: tuple[Stage, ...] = (
    Stage("qualification"),
    Stage("needs_analysis"),
    Stage("proposal"),
    Stage("negotiation"),
    Stage("won", closed=True),
    Stage("lost", closed=True),
)
STAGE_NAMES = frozenset(stage.name for stage in STAGES)
FIRST_STAGE = STAGES[0]


@dataclass(frozen=True)
class OpportunityToOpen:
    """What a first contact with a lead opens."""

    lead_id: str
    customer_id: str | None
    owner_id: str | None
    stage: str
    opened_at: datetime


def opportunity_for_contact(
    *, lead_id: str, rep_id: str, customer_id: str, first_contact: bool, contacted_at: datetime
) -> OpportunityToOpen | None:
    """The opportunity a contact opens: one in the first stage on the lead's first contact, else none."""
    if not first_contact:
        return None
    if not lead_id:
        raise ValueError("a contacted lead without lead_id cannot open an opportunity")
    return OpportunityToOpen(
        lead_id=lead_id,
        customer_id=customer_id or None,
        owner_id=rep_id or None,
        stage=FIRST_STAGE.name,
        opened_at=contacted_at,
    )
