"""Outbound rules without I/O: event names and wildcards, retry timing, Retry-After, signatures during rotation."""

from __future__ import annotations

import base64
import random
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from crm.events.v1 import pipeline_events_pb2
from integration_gateway.outbound.domain import (
    live_secrets,
    matches,
    outbound_events,
    retry_after,
    retry_delay,
    signature,
    subscription_violations,
)
from integration_gateway.settings import DEFAULT_RETRY_SCHEDULE

OLD = "whsec_" + base64.b64encode(b"o" * 32).decode()
NEW = "whsec_" + base64.b64encode(b"n" * 32).decode()


def test_wildcards_take_a_family_or_everything() -> None:
    assert matches(["lead.*"], "lead.claimed") and not matches(["lead.*"], "customer.created")
    assert matches(["*"], "opportunity.won") and matches(["customer.merged"], "customer.merged")
    assert not matches(["customer.merged"], "customer.created")


def test_unknown_event_types_are_named_by_position() -> None:
    violations = subscription_violations(url="https://x.example/h", events=["lead.*", "lead.lost", "x"], description="")
    assert [v.field for v in violations] == ["events[1]", "events[2]"]
    assert [v.field for v in subscription_violations(url="", events=[], description="")] == ["url", "events"]


def test_the_default_schedule_keeps_trying_for_at_least_three_days() -> None:
    assert sum(DEFAULT_RETRY_SCHEDULE) >= 3 * 86400
    assert DEFAULT_RETRY_SCHEDULE[:6] == [0, 5, 300, 1800, 7200, 18000]
    rng = random.Random(1)
    delays = [retry_delay(n, DEFAULT_RETRY_SCHEDULE, rng=rng) for n in range(len(DEFAULT_RETRY_SCHEDULE))]
    assert all(0.8 * base <= d <= 1.2 * base for d, base in zip(delays, DEFAULT_RETRY_SCHEDULE, strict=True))
    assert len({round(d / base, 6) for d, base in zip(delays[1:], DEFAULT_RETRY_SCHEDULE[1:], strict=True)}) > 1
    assert retry_delay(len(DEFAULT_RETRY_SCHEDULE), DEFAULT_RETRY_SCHEDULE) is None


def test_retry_after_as_seconds_or_date_capped() -> None:
    now = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    assert retry_after("120", now=now, cap=3600) == 120
    assert retry_after("Mon, 07 Dec 2026 12:10:00 GMT", now=now, cap=3600) == 600
    assert retry_after("999999", now=now, cap=3600) == 3600
    assert retry_after("soon", now=now, cap=3600) is None and retry_after(None, now=now, cap=3600) is None


def test_both_secrets_sign_during_the_overlap_and_each_verifies() -> None:
    now = datetime.now(UTC)
    secrets = live_secrets(secret=NEW, previous=OLD, previous_until=now + timedelta(hours=1), now=now)
    header = signature(secrets=secrets, webhook_id="evt_1", at=now, body='{"a":1}')
    headers = {"webhook-id": "evt_1", "webhook-timestamp": str(int(now.timestamp())), "webhook-signature": header}
    for secret in (OLD, NEW):
        Webhook(secret).verify('{"a":1}', headers)
    after = live_secrets(secret=NEW, previous=OLD, previous_until=now - timedelta(seconds=1), now=now)
    headers["webhook-signature"] = signature(secrets=after, webhook_id="evt_1", at=now, body='{"a":1}')
    Webhook(NEW).verify('{"a":1}', headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(OLD).verify('{"a":1}', headers)


def test_a_won_stage_change_is_also_delivered_as_won_with_its_own_id() -> None:
    event = pipeline_events_pb2.StageChanged(opportunity_id="o1", to_stage="closed", status="won")
    at = datetime.now(UTC)
    [changed, won] = outbound_events("crm.pipeline.stage_changed", event, event_id="e1", at=at)
    assert (changed.type, changed.event_id, won.type, won.event_id) == (
        "opportunity.stage_changed", "e1", "opportunity.won", "e1.won"
    )
    assert changed.ordering_key == won.ordering_key == "o1"


def test_a_stalled_contract_review_is_a_task_the_legal_system_can_subscribe_to() -> None:
    event = pipeline_events_pb2.LegalReviewRequested(opportunity_id="o7", stage="contract", sub_state="review")
    [task] = outbound_events("crm.pipeline.legal_review_requested", event, event_id="e9", at=datetime.now(UTC))
    assert (task.type, task.event_id, task.ordering_key) == ("opportunity.legal_review_requested", "e9", "o7")
    assert matches(["opportunity.*"], task.type)
    assert not subscription_violations(url="https://legal.example.com/hook", events=[task.type], description="")
