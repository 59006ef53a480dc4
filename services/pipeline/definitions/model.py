"""A pipeline definition as plain data, and the one validation every new version passes before it goes live."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from pydantic import TypeAdapter, ValidationError

from crm_common.errors import FieldViolation, InvalidArgument

EVIDENCE_KINDS = ("contact", "file", "field", "confirmation")
# Fields of an opportunity a `field` action may require.
OPPORTUNITY_FIELDS = ("amount", "currency", "expected_close_date", "customer_id", "name", "lead_id", "next_step_at")
OUTCOMES = ("won", "lost")
CLOCKS = ("calendar", "business")
SKIP_CONDITIONS = ("repeat_customer",)
DEFAULT_STALL_AFTER = "PT72H"
MAX_SUB_STATES = 5
MAX_ACTIONS = 5
# The field's checklist of why a deal does not move (the pipeline's default block reasons).
DEFAULT_BLOCK_REASONS = (
    "customer staff change",
    "technical integration failed",
    "payment terms dispute",
    "budget frozen",
    "competitor involved",
    "decision maker unavailable",
    "legal review pending",
    "procurement process",
    "requirements changed",
    "pricing not accepted",
    "waiting for customer test environment",
    "project postponed",
)
KEY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
MEDIA_TYPE = re.compile(r"^[a-z0-9][a-z0-9.+-]*/[a-z0-9][a-z0-9.+-]*$")
_DURATION = TypeAdapter(timedelta)


@dataclass(frozen=True)
class Action:
    """A required action: key, name and the evidence it needs."""

    key: str
    name: str
    kind: str
    min: int = 1
    media_types: tuple[str, ...] = ()
    field: str = ""

    def need(self) -> str:
        """What the action needs, in words (a refusal names it)."""
        if self.kind == "contact":
            return f"at least {self.min} recorded contact(s) since the stage was entered"
        if self.kind == "file":
            return f"a file of type {' or '.join(self.media_types)}"
        if self.kind == "field":
            return f"field {self.field} set"
        return "the customer's confirmation"


@dataclass(frozen=True)
class SubState:
    key: str
    name: str
    stall_after: timedelta | None = None


@dataclass(frozen=True)
class Stage:
    key: str
    name: str
    probability: float
    sub_states: tuple[SubState, ...] = ()
    actions: tuple[Action, ...] = ()
    stall_after: timedelta = timedelta(hours=72)
    stall_clock: str = "calendar"
    outcome: str | None = None


@dataclass(frozen=True)
class SkipRule:
    from_stage: str
    to_stage: str
    when: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Pipeline:
    """One version of a pipeline, validated."""

    key: str
    name: str
    stages: tuple[Stage, ...]
    skip_rules: tuple[SkipRule, ...]
    block_reasons: tuple[str, ...]
    version: int = 0

    def stage(self, key: str) -> Stage | None:
        return next((s for s in self.stages if s.key == key), None)

    @property
    def path(self) -> tuple[Stage, ...]:
        """The stages a deal walks forward through (every stage but the lost outcomes), in order."""
        return tuple(s for s in self.stages if s.outcome != "lost")

    @property
    def first(self) -> Stage:
        return self.stages[0]


def duration(value: str) -> timedelta:
    """An ISO-8601 duration such as PT72H (ValueError when it is not one, or not positive)."""
    if not isinstance(value, str) or not value.startswith("P"):
        raise ValueError("must be an ISO-8601 duration such as PT72H")
    try:
        parsed = _DURATION.validate_python(value)
    except ValidationError:
        raise ValueError("must be an ISO-8601 duration such as PT72H") from None
    if parsed <= timedelta(0):
        raise ValueError("must be longer than zero")
    return parsed


def parse(key: str, doc: Mapping[str, Any]) -> Pipeline:
    """The pipeline a document describes; InvalidArgument naming every bad field (all at once)."""
    bad: list[FieldViolation] = []

    def fail(path: str, rule: str) -> None:
        bad.append(FieldViolation(path, rule))

    if not KEY.match(key or ""):
        fail("key", "must be 1-64 lower-case letters, digits, '_' or '-'")
    name = doc.get("name")
    if not isinstance(name, str) or not name.strip():
        fail("name", "is required")
    raw_stages = doc.get("stages")
    if not isinstance(raw_stages, list) or len(raw_stages) < 2:
        fail("stages", "needs at least two stages (an open stage and the outcomes)")
        raw_stages = raw_stages if isinstance(raw_stages, list) else []
    stages = [_stage(i, s, fail) for i, s in enumerate(raw_stages)]
    # Judged on what was posted, so that one bad stage does not hide another's duplicate key or outcome.
    keys = [s.get("key") if isinstance(s, Mapping) else None for s in raw_stages]
    for i, k in enumerate(keys):
        if k is not None and k in keys[:i]:
            fail(f"stages.{i}.key", f"duplicate stage key {k!r}")
    outcomes = [s.get("outcome") if isinstance(s, Mapping) else None for s in raw_stages]
    for outcome in OUTCOMES:
        if raw_stages and outcome not in outcomes:
            fail("stages", f"needs a stage with outcome {outcome!r}")
    if outcomes and outcomes[0]:
        fail("stages.0.outcome", "the first stage is where deals open: it cannot be an outcome")
    rules = []
    for i, rule in enumerate(doc.get("skip_rules") or []):
        parsed = _skip_rule(i, rule, keys, fail)
        if parsed is not None:
            rules.append(parsed)
    reasons = doc.get("block_reasons")
    if reasons is None or reasons == []:
        reasons = list(DEFAULT_BLOCK_REASONS)
    if not isinstance(reasons, list) or not all(isinstance(r, str) and r.strip() for r in reasons):
        fail("block_reasons", "must be a list of non-empty strings")
        reasons = []
    elif len(set(reasons)) != len(reasons):
        fail("block_reasons", "must not repeat a reason")
    if bad:
        raise InvalidArgument(bad)
    return Pipeline(
        key=key,
        name=str(name).strip(),
        stages=tuple(s for s in stages if s is not None),
        skip_rules=tuple(rules),
        block_reasons=tuple(reasons),
        version=int(doc.get("version") or 0),
    )


def _stage(i: int, raw: Any, fail: Any) -> Stage | None:
    at = f"stages.{i}"
    if not isinstance(raw, Mapping):
        fail(at, "must be an object")
        return None
    key, name = raw.get("key"), raw.get("name")
    ok = True
    if not isinstance(key, str) or not KEY.match(key):
        fail(f"{at}.key", "must be 1-64 lower-case letters, digits, '_' or '-'")
        ok = False
    if not isinstance(name, str) or not name.strip():
        fail(f"{at}.name", "is required")
        ok = False
    probability = raw.get("probability")
    if isinstance(probability, bool) or not isinstance(probability, int | float) or not 0 <= probability <= 1:
        fail(f"{at}.probability", "must be a number from 0 to 1")
        ok = False
    outcome = raw.get("outcome")
    if outcome not in (None, "", *OUTCOMES):
        fail(f"{at}.outcome", "must be 'won', 'lost' or null")
        ok = False
    clock = raw.get("stall_clock") or "calendar"
    if clock not in CLOCKS:
        fail(f"{at}.stall_clock", "must be 'calendar' or 'business'")
        ok = False
    stall_after = timedelta(hours=72)
    try:
        stall_after = duration(raw.get("stall_after") or DEFAULT_STALL_AFTER)
    except ValueError as err:
        fail(f"{at}.stall_after", str(err))
        ok = False
    subs = raw.get("sub_states") or []
    if not isinstance(subs, list) or len(subs) > MAX_SUB_STATES:
        fail(f"{at}.sub_states", f"at most {MAX_SUB_STATES} sub-states")
        subs, ok = [], False
    sub_states = []
    for j, sub in enumerate(subs):
        parsed = _sub_state(f"{at}.sub_states.{j}", sub, fail)
        ok = ok and parsed is not None
        if parsed is not None:
            if any(s.key == parsed.key for s in sub_states):
                fail(f"{at}.sub_states.{j}.key", f"duplicate sub-state key {parsed.key!r}")
                ok = False
            sub_states.append(parsed)
    raw_actions = raw.get("actions") or []
    if not isinstance(raw_actions, list) or len(raw_actions) > MAX_ACTIONS:
        fail(f"{at}.actions", f"at most {MAX_ACTIONS} actions")
        raw_actions, ok = [], False
    actions = []
    for j, action in enumerate(raw_actions):
        parsed_action = _action(f"{at}.actions.{j}", action, fail)
        ok = ok and parsed_action is not None
        if parsed_action is not None:
            if any(a.key == parsed_action.key for a in actions):
                fail(f"{at}.actions.{j}.key", f"duplicate action key {parsed_action.key!r}")
                ok = False
            actions.append(parsed_action)
    if outcome and actions:
        fail(f"{at}.actions", "an outcome stage has no required actions (nothing leaves it forward)")
        ok = False
    if not ok:
        return None
    return Stage(
        key=key,
        name=name.strip(),
        probability=float(probability),
        sub_states=tuple(sub_states),
        actions=tuple(actions),
        stall_after=stall_after,
        stall_clock=clock,
        outcome=outcome or None,
    )


def _sub_state(at: str, raw: Any, fail: Any) -> SubState | None:
    if not isinstance(raw, Mapping):
        fail(at, "must be an object")
        return None
    key, name = raw.get("key"), raw.get("name")
    ok = True
    if not isinstance(key, str) or not KEY.match(key):
        fail(f"{at}.key", "must be 1-64 lower-case letters, digits, '_' or '-'")
        ok = False
    if not isinstance(name, str) or not name.strip():
        fail(f"{at}.name", "is required")
        ok = False
    stall_after = None
    if raw.get("stall_after"):
        try:
            stall_after = duration(raw["stall_after"])
        except ValueError as err:
            fail(f"{at}.stall_after", str(err))
            ok = False
    return SubState(key=key, name=name.strip(), stall_after=stall_after) if ok else None


def _action(at: str, raw: Any, fail: Any) -> Action | None:
    if not isinstance(raw, Mapping):
        fail(at, "must be an object")
        return None
    key, name, evidence = raw.get("key"), raw.get("name"), raw.get("evidence")
    ok = True
    if not isinstance(key, str) or not KEY.match(key):
        fail(f"{at}.key", "must be 1-64 lower-case letters, digits, '_' or '-'")
        ok = False
    if not isinstance(name, str) or not name.strip():
        fail(f"{at}.name", "is required")
        ok = False
    if not isinstance(evidence, Mapping):
        fail(f"{at}.evidence", "is required")
        return None
    kind = evidence.get("kind")
    if kind not in EVIDENCE_KINDS:
        fail(f"{at}.evidence.kind", f"unknown evidence kind {kind!r}: one of {', '.join(EVIDENCE_KINDS)}")
        return None
    minimum, media_types, field_name = 1, (), ""
    if kind == "contact":
        minimum = evidence.get("min", 1)
        if isinstance(minimum, bool) or not isinstance(minimum, int) or not 1 <= minimum <= 100:
            fail(f"{at}.evidence.min", "must be a whole number from 1 to 100")
            ok = False
    elif kind == "file":
        media_types = evidence.get("media_types")
        if not isinstance(media_types, list) or not media_types or not all(
            isinstance(m, str) and MEDIA_TYPE.match(m) for m in media_types
        ):
            fail(f"{at}.evidence.media_types", "must list media types such as application/pdf")
            ok = False
            media_types = ()
    elif kind == "field":
        field_name = evidence.get("field")
        if field_name not in OPPORTUNITY_FIELDS:
            fail(f"{at}.evidence.field", f"unknown field {field_name!r}: one of {', '.join(OPPORTUNITY_FIELDS)}")
            ok = False
    if not ok:
        return None
    return Action(key=key, name=name.strip(), kind=kind, min=minimum, media_types=tuple(media_types), field=field_name)


def _skip_rule(i: int, raw: Any, keys: list[str], fail: Any) -> SkipRule | None:
    at = f"skip_rules.{i}"
    if not isinstance(raw, Mapping):
        fail(at, "must be an object")
        return None
    src, dst, when = raw.get("from"), raw.get("to"), raw.get("when") or {}
    ok = True
    if src not in keys:
        fail(f"{at}.from", f"unknown stage {src!r}")
        ok = False
    if dst not in keys:
        fail(f"{at}.to", f"unknown stage {dst!r}")
        ok = False
    if ok and keys.index(dst) <= keys.index(src):
        fail(f"{at}.to", "a skip goes forward: 'to' must come after 'from'")
        ok = False
    if not isinstance(when, Mapping) or not when:
        fail(f"{at}.when", f"needs a condition: one of {', '.join(SKIP_CONDITIONS)}")
        return None
    for name, value in when.items():
        if name not in SKIP_CONDITIONS:
            fail(f"{at}.when.{name}", f"unknown condition: one of {', '.join(SKIP_CONDITIONS)}")
            ok = False
        elif not isinstance(value, bool):
            fail(f"{at}.when.{name}", "must be true or false")
            ok = False
    return SkipRule(from_stage=src, to_stage=dst, when=dict(when)) if ok else None


def _iso(value: timedelta) -> str:
    """A timedelta as the ISO-8601 duration it was given as (hours, minutes, seconds)."""
    seconds = int(value.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return "PT" + (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "") + (f"{secs}S" if secs else "")


def to_doc(pipeline: Pipeline) -> dict[str, Any]:
    """The pipeline as the JSON document it is stored and served as (the REST shape)."""
    return {
        "key": pipeline.key,
        "name": pipeline.name,
        "stages": [
            {
                "key": s.key,
                "name": s.name,
                "probability": s.probability,
                "sub_states": [
                    {"key": u.key, "name": u.name, **({"stall_after": _iso(u.stall_after)} if u.stall_after else {})}
                    for u in s.sub_states
                ],
                "actions": [
                    {"key": a.key, "name": a.name, "evidence": _evidence_doc(a)} for a in s.actions
                ],
                "stall_after": _iso(s.stall_after),
                "stall_clock": s.stall_clock,
                "outcome": s.outcome,
            }
            for s in pipeline.stages
        ],
        "skip_rules": [{"from": r.from_stage, "to": r.to_stage, "when": dict(r.when)} for r in pipeline.skip_rules],
        "block_reasons": list(pipeline.block_reasons),
    }


def _evidence_doc(action: Action) -> dict[str, Any]:
    if action.kind == "contact":
        return {"kind": "contact", "min": action.min}
    if action.kind == "file":
        return {"kind": "file", "media_types": list(action.media_types)}
    if action.kind == "field":
        return {"kind": "field", "field": action.field}
    return {"kind": "confirmation"}
