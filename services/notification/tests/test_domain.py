"""Rendering and keying of notifications, without a server."""

from __future__ import annotations

from crm.events.v1 import lead_events_pb2
from crm.notification.v1 import notification_pb2
from notification import domain


def test_render_lead_assigned_names_the_lead_company_and_channel() -> None:
    event = lead_events_pb2.LeadAssigned(lead_name="王伟", company="Acme 有限公司", channel="web_form")
    rendered = domain.render_lead_assigned(event)
    assert rendered.title == "New lead assigned: 王伟 (Acme 有限公司)"
    assert "Lead: 王伟" in rendered.body
    assert "Company: Acme 有限公司" in rendered.body
    assert "Channel: web_form" in rendered.body


def test_render_lead_assigned_shows_placeholders_for_missing_fields() -> None:
    rendered = domain.render_lead_assigned(lead_events_pb2.LeadAssigned())
    assert rendered.title == f"New lead assigned: {domain.PLACEHOLDER}"
    assert f"Lead: {domain.PLACEHOLDER}\n" in rendered.body
    assert f"Company: {domain.PLACEHOLDER}\n" in rendered.body
    assert f"Channel: {domain.PLACEHOLDER}\n" in rendered.body
    assert "None" not in rendered.body


def test_render_lead_assigned_treats_blank_and_multiline_fields_as_text() -> None:
    event = lead_events_pb2.LeadAssigned(lead_name="  Ann\n  Lee ", company="   ", channel="api")
    rendered = domain.render_lead_assigned(event)
    assert rendered.title == "New lead assigned: Ann Lee"
    assert f"Company: {domain.PLACEHOLDER}" in rendered.body


def test_idempotency_key_is_per_event_and_channel() -> None:
    assert domain.idempotency_key("evt-1", "in_app") == "evt-1:in_app"
    assert domain.idempotency_key("evt-1", "in_app") != domain.idempotency_key("evt-1", "sms")


def test_every_stored_status_has_its_proto_value() -> None:
    for status in (domain.PENDING, domain.SENT, domain.DELIVERED, domain.RETRYING, domain.FAILED, domain.ESCALATED):
        assert domain.status_to_proto(status) != notification_pb2.NOTIFICATION_STATUS_UNSPECIFIED
    assert domain.status_to_proto("bogus") == notification_pb2.NOTIFICATION_STATUS_UNSPECIFIED
