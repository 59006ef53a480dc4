"""Translation between the REST shapes (gateway.schemas) and the services' protobuf messages."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from crm.integration.v1 import integration_pb2
from crm.lead.v1 import lead_pb2
from crm.notification.v1 import notification_pb2
from crm.pipeline.v1 import pipeline_pb2
from crm.reporting.v1 import reporting_pb2
from gateway import schemas


def _opt(value: str) -> str | None:
    """proto3 has no null: an empty string means unset."""
    return value or None


def _time(message: Message, field: str) -> datetime | None:
    if not message.HasField(field):
        return None
    stamp: Timestamp = getattr(message, field)
    return stamp.ToDatetime(tzinfo=UTC)


def _enum_name(name: str, prefix: str) -> str:
    """`LEAD_STATUS_CLAIMED` -> `claimed`."""
    return name.removeprefix(prefix).lower()


def timestamp(value: datetime) -> Timestamp:
    """A Timestamp for an aware datetime (a naive one is taken as UTC)."""
    stamp = Timestamp()
    stamp.FromDatetime(value if value.tzinfo else value.replace(tzinfo=UTC))
    return stamp


def lead_input(body: schemas.LeadIn) -> lead_pb2.LeadInput:
    fields = body.model_dump(exclude={"source"}, exclude_none=True)
    source = lead_pb2.Source(**body.source.model_dump(exclude_none=True)) if body.source else None
    return lead_pb2.LeadInput(**fields, source=source)


def lead(message: lead_pb2.Lead) -> schemas.LeadOut:
    return schemas.LeadOut(**_lead_fields(message))


def _lead_fields(message: lead_pb2.Lead) -> dict[str, Any]:
    """A lead's fields, for LeadOut or CapturedLeadOut (built once: no model to dump and validate again)."""
    data = message.input
    return dict(
        id=message.id,
        name=_opt(data.name),
        phone=_opt(data.phone),
        email=_opt(data.email),
        company=_opt(data.company),
        province=_opt(data.province),
        city=_opt(data.city),
        industry=_opt(data.industry),
        product_interest=_opt(data.product_interest),
        notes=_opt(data.notes),
        customer_tier=_opt(data.customer_tier),
        source=schemas.SourceOut(
            channel=_opt(data.source.channel),
            utm_source=_opt(data.source.utm_source),
            utm_medium=_opt(data.source.utm_medium),
            utm_campaign=_opt(data.source.utm_campaign),
            campaign_id=_opt(data.source.campaign_id),
            referrer=_opt(data.source.referrer),
        ),
        status=_enum_name(lead_pb2.LeadStatus.Name(message.status), "LEAD_STATUS_"),
        assignee_id=_opt(message.assignee_id),
        customer_id=_opt(message.customer_id),
        trace_id=_opt(message.trace_id),
        captured_at=_time(message, "captured_at"),
        assigned_at=_time(message, "assigned_at"),
        claimed_at=_time(message, "claimed_at"),
        first_contact_at=_time(message, "first_contact_at"),
        timeline=[
            schemas.TimelineEntryOut(step=entry.step, at=_time(entry, "at"), detail=entry.detail)
            for entry in message.timeline
        ],
    )


def captured_lead(reply: lead_pb2.CaptureLeadResponse) -> schemas.CapturedLeadOut:
    return schemas.CapturedLeadOut(**_lead_fields(reply.lead), created=reply.created)


def receipt(reply: integration_pb2.ReceiveWebhookResponse) -> schemas.WebhookReceiptOut:
    r = reply.receipt
    return schemas.WebhookReceiptOut(
        id=r.id,
        source=r.source,
        lead_id=_opt(r.lead_id),
        status=r.status,
        error=_opt(r.error),
        received_at=_time(r, "received_at"),
        created=reply.created,
    )


def _stats(message: reporting_pb2.DurationStats) -> schemas.DurationStatsOut:
    return schemas.DurationStatsOut(
        count=message.count, p50_seconds=message.p50_seconds, p90_seconds=message.p90_seconds
    )


def lead_response_report(reply: reporting_pb2.GetLeadResponseReportResponse) -> schemas.LeadResponseReportOut:
    return schemas.LeadResponseReportOut(
        leads_captured=reply.leads_captured,
        time_to_assignment=_stats(reply.time_to_assignment),
        time_to_first_contact=_stats(reply.time_to_first_contact),
        computed_at=_time(reply, "computed_at"),
    )


def team(message: lead_pb2.Team) -> schemas.TeamOut:
    return schemas.TeamOut(id=message.id, name=message.name)


def rep(message: lead_pb2.Rep) -> schemas.RepOut:
    return schemas.RepOut(
        id=message.id, name=message.name, team_id=message.team_id, active=message.active, email=_opt(message.email)
    )


def notification(message: notification_pb2.Notification) -> schemas.NotificationOut:
    return schemas.NotificationOut(
        id=message.id,
        recipient_id=message.recipient_id,
        channel=message.channel,
        lead_id=_opt(message.lead_id),
        kind=message.kind,
        status=_enum_name(notification_pb2.NotificationStatus.Name(message.status), "NOTIFICATION_STATUS_"),
        reason=_opt(message.reason),
        attempts=[
            schemas.AttemptOut(
                number=a.number, channel=a.channel, outcome=a.outcome, detail=a.detail, at=_time(a, "at")
            )
            for a in message.attempts
        ],
        created_at=_time(message, "created_at"),
        delivered_at=_time(message, "delivered_at"),
    )


def opportunity(message: pipeline_pb2.Opportunity) -> schemas.OpportunityOut:
    return schemas.OpportunityOut(
        id=message.id,
        lead_id=_opt(message.lead_id),
        customer_id=_opt(message.customer_id),
        owner_id=_opt(message.owner_id),
        stage=message.stage,
        opened_at=_time(message, "opened_at"),
    )


def reply_json(message: Message, json_fields: frozenset[str]) -> dict[str, Any]:
    """A gRPC reply as JSON with empty values kept; fields holding JSON documents are returned parsed."""
    out = MessageToDict(message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)
    return _parse_json_fields(out, json_fields)


def _parse_json_fields(value: Any, json_fields: frozenset[str]) -> Any:
    if isinstance(value, dict):
        return {
            k: json.loads(v) if k in json_fields and isinstance(v, str) and v else _parse_json_fields(v, json_fields)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_parse_json_fields(v, json_fields) for v in value]
    return value
