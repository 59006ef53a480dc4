"""The JSON shapes of the integration routes: sources, subscriptions and their deliveries, dependencies."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, TypeVar

from google.protobuf import json_format
from google.protobuf.message import Message
from pydantic import BaseModel, Field, StringConstraints

from gateway.schemas import Instant, RequestModel, Short

M = TypeVar("M", bound=BaseModel)
Text200 = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]


class SourceIn(RequestModel):
    """A webhook source's configuration; without a secret it keeps the API-key route."""

    secret: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = Field(
        default=None, description="A Standard Webhooks secret: whsec_ and base64 of 24 to 64 bytes"
    )
    mapping: dict[Annotated[str, StringConstraints(max_length=64)], Text200] | None = Field(
        default=None, max_length=32, description="Lead field -> dotted path in the payload (e.g. phone: contact.mobile)"
    )
    kind: Short | None = Field(default=None, description="form, partner, ads, crm or wecom (default form)")


class SourceOut(BaseModel):
    source: str
    signed: bool
    mapping: dict[str, str]
    kind: str
    updated_at: datetime | None = None


class SubscriptionIn(RequestModel):
    url: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
    events: list[Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)]] = Field(
        min_length=1, max_length=32, description="Event types (customer.created, …, opportunity.lost) or lead.*-style wildcards"
    )
    description: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None


class RotateIn(RequestModel):
    overlap_seconds: int | None = Field(default=None, ge=0, le=604800, description="Old secret signs beside the new")


class SubscriptionOut(BaseModel):
    id: str
    url: str
    events: list[str]
    description: str
    secret: str | None = Field(default=None, description="Only in the answer that issued it")
    status: Literal["active", "disabled"]
    disabled_reason: str
    created_at: datetime | None = None
    previous_secret_until: datetime | None = None


class DeliveryOut(BaseModel):
    id: str
    subscription_id: str
    event_id: str
    type: str
    status: Literal["pending", "succeeded", "failed"]
    attempts: int
    last_status_code: int
    last_error: str
    created_at: datetime | None = None
    next_attempt_at: datetime | None = None
    delivered_at: datetime | None = None


class DeliveriesOut(BaseModel):
    deliveries: list[DeliveryOut]


class RecoverIn(RequestModel):
    since: Instant


class RecoverOut(BaseModel):
    requeued: int


class DependencyIn(RequestModel):
    kind: Literal["wecom", "dingtalk", "sms", "smtp", "webhook", "system", "other"]
    sla: Text200 | None = None
    owner: Text200 | None = None
    probe_url: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] | None = Field(
        default=None, description="Answered 2xx when up; empty: the notification service's channel probe reports it"
    )


class DependencyOut(BaseModel):
    name: str
    kind: str
    up: bool
    since: datetime | None = None
    last_probe_at: datetime | None = None
    sla: str
    owner: str
    detail: str


def from_proto(model: type[M], message: Message) -> M:
    """A response model from the service's message (unset times are None)."""
    return model.model_validate(
        json_format.MessageToDict(message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)
    )
