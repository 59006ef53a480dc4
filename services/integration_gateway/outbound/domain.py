"""Outbound rules without I/O: event types and wildcards, the delivery body and signature, retry timing."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message
from standardwebhooks import Webhook

from crm_common.errors import FieldViolation, text_problem

# Subject -> the public type its events are delivered as, and the field that orders them (the customer's
# where the event names one; otherwise the lead or opportunity, whose events are about one customer anyway).
SUBJECTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "crm.customer.created": ("customer.created", ("customer_id",)),
    "crm.customer.updated": ("customer.updated", ("customer_id",)),
    "crm.customer.merged": ("customer.merged", ("survivor_id",)),
    "crm.lead.assigned": ("lead.assigned", ("lead_id",)),
    "crm.lead.claimed": ("lead.claimed", ("lead_id",)),
    "crm.lead.contacted": ("lead.contacted", ("customer_id", "lead_id")),
    "crm.pipeline.stage_changed": ("opportunity.stage_changed", ("opportunity_id",)),
    # A contract review over 48 h: the legal/finance system subscribes to it as its task.
    "crm.pipeline.legal_review_requested": ("opportunity.legal_review_requested", ("opportunity_id",)),
}
# A stage change that ends the opportunity is also delivered as opportunity.won / opportunity.lost.
OUTCOME_TYPES = {"won": "opportunity.won", "lost": "opportunity.lost"}
EVENT_TYPES = tuple(t for t, _ in SUBJECTS.values()) + tuple(OUTCOME_TYPES.values())
PATTERN = re.compile(r"^(\*|[a-z_]+\.(\*|[a-z_]+))$")
MAX_EVENTS = 32
MAX_URL = 2000


@dataclass(frozen=True)
class OutboundEvent:
    """One event as delivered: its webhook-id, public type, ordering key and JSON body."""

    event_id: str
    type: str
    ordering_key: str
    body: str


def matches(patterns: Iterable[str], event_type: str) -> bool:
    """Whether a subscription's patterns (`lead.assigned`, `lead.*`, `*`) take an event type."""
    family = event_type.split(".", 1)[0]
    return any(p in ("*", event_type, f"{family}.*") for p in patterns)


def subscription_violations(*, url: str, events: Sequence[str], description: str) -> list[FieldViolation]:
    """Problems of a subscription's fields other than where its URL points (the egress guard decides that)."""
    violations = []
    if not url.strip():
        violations.append(FieldViolation("url", "required"))
    elif len(url) > MAX_URL or text_problem(url):
        violations.append(FieldViolation("url", text_problem(url) or f"at most {MAX_URL} characters"))
    if not events:
        violations.append(FieldViolation("events", "at least one event type (e.g. lead.assigned or lead.*)"))
    if len(events) > MAX_EVENTS:
        violations.append(FieldViolation("events", f"at most {MAX_EVENTS}"))
    for i, pattern in enumerate(events):
        if not PATTERN.match(pattern) or not any(matches([pattern], t) for t in EVENT_TYPES):
            violations.append(FieldViolation(f"events[{i}]", f"not a known event type or wildcard; one of {', '.join(EVENT_TYPES)}"))
    if len(description) > 500 or text_problem(description):
        violations.append(FieldViolation("description", text_problem(description) or "at most 500 characters"))
    return violations


def outbound_events(subject: str, message: Message, *, event_id: str, at: datetime) -> list[OutboundEvent]:
    """The deliveries an event becomes (one, or two for a stage change that wins or loses the opportunity)."""
    event_type, key_fields = SUBJECTS[subject]
    data = json_format.MessageToDict(message, preserving_proto_field_name=True)
    key = next((str(data[f]) for f in key_fields if data.get(f)), event_id)
    types = [(event_id, event_type)]
    outcome = OUTCOME_TYPES.get(str(data.get("status", ""))) if subject == "crm.pipeline.stage_changed" else None
    if outcome:
        # Its own webhook-id: a receiver deduping by webhook-id must not drop it as a repeat of the stage change.
        types.append((f"{event_id}.{outcome.rsplit('.', 1)[1]}", outcome))
    return [OutboundEvent(eid, t, key, body_of(event_id=eid, event_type=t, at=at, data=data)) for eid, t in types]


def body_of(*, event_id: str, event_type: str, at: datetime, data: dict[str, Any]) -> str:
    """The delivery's JSON body, byte for byte as signed."""
    return json.dumps(
        {"id": event_id, "type": event_type, "timestamp": at.astimezone(UTC).isoformat(), "data": data},
        ensure_ascii=False, separators=(",", ":"),
    )


def signature(*, secrets: Sequence[str], webhook_id: str, at: datetime, body: str) -> str:
    """The webhook-signature header: one `v1,` signature per live secret (both during a rotation's overlap)."""
    return " ".join(Webhook(secret).sign(webhook_id, at, body) for secret in secrets)


def live_secrets(*, secret: str, previous: str | None, previous_until: datetime | None, now: datetime) -> list[str]:
    """The secrets that sign now: the current one, and the previous one until its overlap ends."""
    if previous and previous_until is not None and now < previous_until:
        return [secret, previous]
    return [secret]


def retry_delay(attempts: int, schedule: Sequence[float], *, rng: random.Random | None = None) -> float | None:
    """Seconds before attempt number `attempts + 1` (jittered ±20%), or None when the schedule is spent."""
    if attempts >= len(schedule):
        return None
    base = schedule[attempts]
    return base * (rng or random).uniform(0.8, 1.2)


def retry_after(value: str | None, *, now: datetime, cap: float) -> float | None:
    """Seconds a receiver's Retry-After asks for (delta-seconds or an HTTP date), capped; None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), cap)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(max((when - now).total_seconds(), 0.0), cap)


def due_after(now: datetime, seconds: float) -> datetime:
    return now + timedelta(seconds=seconds)
