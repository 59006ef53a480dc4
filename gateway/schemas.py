"""The public JSON shapes of the REST API (requests are strict: trimmed, bounded, no unknown fields)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic_core import PydanticCustomError

Short = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
Long = Annotated[str, StringConstraints(strip_whitespace=True, max_length=4000)]
Required = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


def _in_calendar(value: datetime) -> datetime:
    """A time the services can hold: its UTC instant lies within years 1 to 9999 (a naive one is taken as UTC)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        value.astimezone(UTC)
    except OverflowError:
        raise PydanticCustomError(
            "datetime_range", "must lie between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z in UTC"
        ) from None
    return value


# Every time a request carries: 0001-01-01T00:00:00+14:00 is a valid RFC 3339 string but year 0 in UTC.
Instant = Annotated[datetime, AfterValidator(_in_calendar)]


class RequestModel(BaseModel):
    """Base of request bodies: a typo in a field name is an error, not a silently dropped value."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class SourceIn(RequestModel):
    channel: Short | None = None
    utm_source: Short | None = None
    utm_medium: Short | None = None
    utm_campaign: Short | None = None
    campaign_id: Short | None = None
    referrer: Short | None = None


class LeadIn(RequestModel):
    """A lead as a form or a system submits it; phone or email is required."""

    name: Short | None = None
    phone: Short | None = None
    email: Short | None = None
    company: Short | None = None
    province: Short | None = None
    city: Short | None = None
    industry: Short | None = None
    product_interest: Short | None = None
    notes: Long | None = None
    customer_tier: Short | None = Field(
        default=None, description="the customer's tier when the submitting system knows it (strategic, key, ...)"
    )
    source: SourceIn | None = None

    @model_validator(mode="after")
    def _reachable(self) -> LeadIn:
        if not self.phone and not self.email:
            # ctx.fields lets the error handler name both fields instead of the whole body.
            raise PydanticCustomError(
                "contact_missing", "give a phone or an email", {"fields": ("phone", "email")}
            )
        return self


class ClaimIn(RequestModel):
    rep_id: Short | None = None


class ContactIn(RequestModel):
    channel: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
    summary: Long = ""
    rep_id: Short | None = None


class TeamIn(RequestModel):
    name: Required


class RepIn(RequestModel):
    name: Required
    team_id: Required
    email: Short | None = None


class SourceOut(BaseModel):
    channel: str | None = None
    utm_source: str | None = None
    utm_medium: str | None = None
    utm_campaign: str | None = None
    campaign_id: str | None = None
    referrer: str | None = None


class TimelineEntryOut(BaseModel):
    step: str
    at: datetime | None
    detail: str


class LeadOut(BaseModel):
    """A stored lead; timestamps are RFC 3339 UTC, null while the step has not happened."""

    id: str
    name: str | None
    phone: str | None = Field(description="E.164, as the lead service stored it")
    email: str | None
    company: str | None
    province: str | None
    city: str | None
    industry: str | None
    product_interest: str | None
    notes: str | None
    customer_tier: str | None = None
    source: SourceOut
    status: str = Field(description="new, assigned, claimed or contacted")
    assignee_id: str | None
    customer_id: str | None
    trace_id: str | None = Field(description="the trace of the lead's whole journey")
    captured_at: datetime | None
    assigned_at: datetime | None
    claimed_at: datetime | None
    first_contact_at: datetime | None
    timeline: list[TimelineEntryOut]


class CapturedLeadOut(LeadOut):
    created: bool = Field(description="false when an earlier request with the same Idempotency-Key answered")


class ContactOut(BaseModel):
    lead: LeadOut
    first_contact: bool


class WebhookReceiptOut(BaseModel):
    id: str
    source: str
    lead_id: str | None
    status: str
    error: str | None
    received_at: datetime | None
    created: bool = Field(description="false when an earlier delivery with the same Idempotency-Key answered")


class DurationStatsOut(BaseModel):
    count: int
    p50_seconds: float
    p90_seconds: float


class LeadResponseReportOut(BaseModel):
    leads_captured: int
    time_to_assignment: DurationStatsOut
    time_to_first_contact: DurationStatsOut
    computed_at: datetime | None


class TeamOut(BaseModel):
    id: str
    name: str


class RepOut(BaseModel):
    id: str
    name: str
    team_id: str
    active: bool
    email: str | None


class AttemptOut(BaseModel):
    number: int
    channel: str
    outcome: str
    detail: str
    at: datetime | None


class NotificationOut(BaseModel):
    id: str
    recipient_id: str
    channel: str
    lead_id: str | None
    kind: str
    status: str = Field(description="pending, sent, delivered, retrying, failed or escalated")
    reason: str | None
    attempts: list[AttemptOut]
    created_at: datetime | None
    delivered_at: datetime | None


class OpportunityOut(BaseModel):
    id: str
    lead_id: str | None
    customer_id: str | None
    owner_id: str | None
    stage: str
    opened_at: datetime | None


class ReadinessOut(BaseModel):
    status: str = Field(description="ready or not_ready")
    dependencies: dict[str, str] | None = Field(
        default=None, description="each service's health (serving, not_serving, unreachable, ...); admins only"
    )
