"""The rules of a stage change as plain functions: what kind of move it is, and what the stage being left lacks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from crm_common.errors import FailedPrecondition, FieldViolation, InvalidArgument
from pipeline.definitions.model import Action, Pipeline, Stage


@dataclass(frozen=True)
class Missing:
    """One thing a refused move lacks: the action, what it needs, what there is."""

    stage: str
    action: str
    need: str
    have: str


@dataclass(frozen=True)
class Facts:
    """The evidence recorded for an opportunity, as the gates read it."""

    # Communications with the customer since the current stage was entered.
    contacts_since_entry: int = 0
    # Per action key of the current stage: media types of the files uploaded for it.
    files: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # Per action key of the current stage: confirmations recorded.
    confirmations: Mapping[str, int] = field(default_factory=dict)
    # The opportunity's fields (amount, expected_close_date, ...).
    fields: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Plan:
    """What a requested move is: its kind, whether the stage left is gated, whether it waits for an approval."""

    kind: str  # next | skip_rule | skip | backward | reopen | lose
    gated: bool
    needs_approval: bool


def check(action: Action, facts: Facts) -> tuple[bool, str]:
    """Whether an action is done, and what there is (in words)."""
    if action.kind == "contact":
        have = facts.contacts_since_entry
        return have >= action.min, f"{have} contact(s)"
    if action.kind == "file":
        types = facts.files.get(action.key, ())
        good = [t for t in types if t in action.media_types]
        return bool(good), (f"{len(good)} file(s) of an accepted type" if types else "no file")
    if action.kind == "field":
        value = facts.fields.get(action.field)
        done = value not in (None, "")
        return done, (f"{action.field} is set" if done else f"{action.field} is not set")
    count = facts.confirmations.get(action.key, 0)
    return count > 0, f"{count} confirmation(s)"


def missing(stage: Stage, facts: Facts) -> list[Missing]:
    """Every required action of the stage that is not done."""
    out = []
    for action in stage.actions:
        done, have = check(action, facts)
        if not done:
            out.append(Missing(stage=stage.key, action=action.key, need=action.need(), have=have))
    return out


def skip_allowed(pipeline: Pipeline, *, current: str, to: str, conditions: Mapping[str, bool]) -> bool:
    """Whether a skip rule lets the opportunity jump from current to `to` given what holds for it."""
    return any(
        rule.from_stage == current
        and rule.to_stage == to
        and all(bool(conditions.get(name)) == bool(value) for name, value in rule.when.items())
        for rule in pipeline.skip_rules
    )


def plan(
    pipeline: Pipeline, *, current: str, status: str, to: str, reason: str, conditions: Mapping[str, bool]
) -> Plan:
    """Classify a requested move (InvalidArgument for an unknown stage, FailedPrecondition for no move at all)."""
    target = pipeline.stage(to)
    if target is None:
        raise InvalidArgument([FieldViolation("to", f"unknown stage {to!r} in pipeline {pipeline.key!r}")])
    if to == current:
        raise FailedPrecondition(f"the opportunity is already in stage {to!r}")
    if target.outcome == "lost" and not reason.strip():
        raise InvalidArgument([FieldViolation("reason", "a lost outcome needs a reason")])
    if status != "open":
        # Reopening (or changing) a won or lost deal is a backward move.
        return Plan("reopen", gated=False, needs_approval=True)
    if target.outcome == "lost":
        return Plan("lose", gated=False, needs_approval=False)
    path = [s.key for s in pipeline.path]
    here, there = path.index(current) if current in path else -1, path.index(to)
    if there < here:
        return Plan("backward", gated=False, needs_approval=True)
    if there == here + 1:
        return Plan("next", gated=True, needs_approval=False)
    if skip_allowed(pipeline, current=current, to=to, conditions=conditions):
        return Plan("skip_rule", gated=True, needs_approval=False)
    return Plan("skip", gated=True, needs_approval=True)
