"""When an opportunity stalls: its stage's (or sub-state's) period on the calendar or the team's working hours."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from crm_common.calendar import Calendar
from pipeline.definitions.model import Stage

# A contract-review sub-state that stays longer than this raises a task for legal.
LEGAL_REVIEW_AFTER = timedelta(hours=48)
LEGAL_SUB_STATES = frozenset({"contract_review", "legal_review"})


@dataclass(frozen=True)
class Due:
    """The next thing the stall clock does for an opportunity, and when."""

    at: datetime
    kind: str  # stall | escalate | legal
    level: int = 0


def period(stage: Stage, sub_state: str) -> timedelta:
    """The stall period in force: the sub-state's when it sets one, else the stage's."""
    sub = next((s for s in stage.sub_states if s.key == sub_state), None)
    return sub.stall_after if sub is not None and sub.stall_after else stage.stall_after


def after(start: datetime, duration: timedelta, *, clock: str, calendar: Calendar | None) -> datetime:
    """The moment `duration` after `start`, counted on the calendar or in the team's working hours."""
    if clock == "business" and calendar is not None:
        return calendar.add_working_time(start, duration)
    return start + duration


def first_due(
    stage: Stage,
    *,
    sub_state: str,
    since: datetime,
    sub_state_since: datetime | None,
    next_step_at: datetime | None,
    calendar: Calendar | None,
    legal_done: bool = False,
) -> Due | None:
    """The first stall (or legal review) of a stay in a stage; none for an outcome stage.

    A next step scheduled in the future pauses the clock: it counts from that step, not from the entry.
    """
    if stage.outcome:
        return None
    start = sub_state_since if sub_state and sub_state_since else since
    if next_step_at is not None and next_step_at > start:
        start = next_step_at
    stall = Due(after(start, period(stage, sub_state), clock=stage.stall_clock, calendar=calendar), "stall")
    if sub_state in LEGAL_SUB_STATES and sub_state_since is not None and not legal_done:
        legal = Due(sub_state_since + LEGAL_REVIEW_AFTER, "legal")
        return min(stall, legal, key=lambda d: d.at)
    return stall


def escalation(stage: Stage, *, sub_state: str, raised_at: datetime, calendar: Calendar | None) -> Due:
    """A raised stall re-escalates (to the manager's manager) if nothing changes within another period."""
    return Due(after(raised_at, period(stage, sub_state), clock=stage.stall_clock, calendar=calendar), "escalate", 1)
