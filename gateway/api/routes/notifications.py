"""Notification administration and sending: channels and their health, templates, recipients, escalation chains."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Annotated, TypeVar

import grpc
from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from crm.notification.v1 import notification_pb2
from crm_common.errors import field_violations_of
from gateway import convert, schemas
from gateway.api.deps import (
    IdempotencyKeyDep,
    NotificationClientDep,
    NotificationConfigReadDep,
    NotificationConfigUpdateDep,
    NotificationCreateDep,
    NotificationReadDep,
)
from gateway.core.errors import FieldError, Problem
from gateway.core.peers import CALL_DEADLINE_SECONDS

router = APIRouter(prefix="/v1", tags=["notifications"])
T = TypeVar("T")

NameDep = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$", description="The name.")]
RecipientIdDep = Annotated[str, Path(min_length=1, max_length=200, description="The recipient's id (the rep's id).")]


class ChannelIn(BaseModel):
    kind: str = Field(description="wecom_app, wecom_robot, dingtalk_robot, sms, smtp or webhook")
    settings: dict[str, str] = Field(default_factory=dict, description="Non-secret settings (base_url, corp_id, host…)")
    secret_refs: dict[str, str] = Field(
        default_factory=dict, description="Where each secret is read from: 'env:NAME' or 'file:/path' (never the secret)"
    )
    rate_limit_per_minute: int = Field(default=0, ge=0, le=100000, description="0: the provider's documented limit")
    enabled: bool = True


class ChannelOut(ChannelIn):
    name: str
    updated_at: datetime | None


class ChannelHealthOut(BaseModel):
    channel: str
    kind: str
    up: bool
    degraded: bool
    detail: str
    token_expires_in_seconds: float | None
    recent_failure_rate: float
    checked_at: datetime | None


class TemplateIn(BaseModel):
    title: str = Field(min_length=1, max_length=4000, description="With {field} placeholders")
    body: str = Field(min_length=1, max_length=4000)
    placeholder: str = Field(default="—", max_length=50, description="Shown for a missing or empty field")


class TemplateOut(TemplateIn):
    name: str
    fields: list[str]
    updated_at: datetime | None


class RecipientIn(BaseModel):
    name: str = Field(default="", max_length=200)
    team_id: str = Field(default="", max_length=200)
    manager_id: str = Field(default="", max_length=200)
    wecom_user_id: str = Field(default="", max_length=200)
    mobile: str = Field(default="", max_length=40)
    email: str = Field(default="", max_length=320)
    dingtalk_mobile: str = Field(default="", max_length=40)
    fallback_chain: list[str] = Field(default_factory=list, max_length=10, description="Channel names, tried in order")
    quiet_start: str = Field(default="", max_length=5, description="HH:MM local time")
    quiet_end: str = Field(default="", max_length=5)
    time_zone: str = Field(default="Asia/Shanghai", max_length=64)


class RecipientOut(RecipientIn):
    id: str
    updated_at: datetime | None


class EscalationChainIn(BaseModel):
    steps: list[str] = Field(min_length=1, max_length=10, description="'manager' or a recipient id, in order")


class EscalationChainOut(EscalationChainIn):
    team_id: str
    updated_at: datetime | None


class SendIn(BaseModel):
    recipient_id: str = Field(min_length=1, max_length=200)
    template: str = Field(min_length=1, max_length=64)
    fields: dict[str, str] = Field(default_factory=dict)
    lead_id: str = Field(default="", max_length=200)
    urgent: bool = Field(default=False, description="Ignores the recipient's quiet hours")
    kind: str = Field(default="", max_length=64)


class DeliveryOut(BaseModel):
    channel: str
    status: str
    attempts: int
    last_error: str
    next_attempt_at: datetime | None


class NotificationDetailOut(schemas.NotificationOut):
    title: str
    urgent: bool
    escalated_to: str | None
    deliveries: list[DeliveryOut]


def _time(message: object, field: str) -> datetime | None:
    if not message.HasField(field):  # type: ignore[attr-defined]
        return None
    return getattr(message, field).ToDatetime(tzinfo=UTC)


def _channel(message: notification_pb2.Channel) -> ChannelOut:
    return ChannelOut(
        name=message.name, kind=message.kind, settings=dict(message.settings), secret_refs=dict(message.secret_refs),
        rate_limit_per_minute=message.rate_limit_per_minute, enabled=message.enabled, updated_at=_time(message, "updated_at"),
    )


def _template(message: notification_pb2.Template) -> TemplateOut:
    return TemplateOut(
        name=message.name, title=message.title, body=message.body, placeholder=message.placeholder,
        fields=list(message.fields), updated_at=_time(message, "updated_at"),
    )


def _recipient(message: notification_pb2.Recipient) -> RecipientOut:
    return RecipientOut(
        id=message.id, name=message.name, team_id=message.team_id, manager_id=message.manager_id,
        wecom_user_id=message.wecom_user_id, mobile=message.mobile, email=message.email,
        dingtalk_mobile=message.dingtalk_mobile, fallback_chain=list(message.fallback_chain),
        quiet_start=message.quiet_start, quiet_end=message.quiet_end, time_zone=message.time_zone,
        updated_at=_time(message, "updated_at"),
    )


def _chain(message: notification_pb2.EscalationChain) -> EscalationChainOut:
    return EscalationChainOut(team_id=message.team_id, steps=list(message.steps), updated_at=_time(message, "updated_at"))


def _notification(message: notification_pb2.Notification) -> NotificationDetailOut:
    base = convert.notification(message)
    return NotificationDetailOut(
        **base.model_dump(),
        title=message.title,
        urgent=message.urgent,
        escalated_to=message.escalated_to or None,
        deliveries=[
            DeliveryOut(
                channel=d.channel, status=d.status, attempts=d.attempts, last_error=d.last_error,
                next_attempt_at=_time(d, "next_attempt_at"),
            )
            for d in message.deliveries
        ],
    )


async def _put(call: Awaitable[T], prefix: str) -> T:
    """Make a write call; the service names fields of its request message, the REST body has them at the top."""
    try:
        return await call
    except grpc.aio.AioRpcError as err:
        if err.code() != grpc.StatusCode.INVALID_ARGUMENT:
            raise
        errors = [FieldError(v.field.removeprefix(prefix), v.description) for v in field_violations_of(err)]
        raise Problem(422, err.details() or "invalid input", errors=errors) from None


@router.get("/notification/channels", response_model=list[ChannelOut])
async def list_channels(_caller: NotificationConfigReadDep, client: NotificationClientDep) -> list[ChannelOut]:
    """Every configured channel (secrets appear only as references)."""
    reply = await client.ListChannels(notification_pb2.ListChannelsRequest(), timeout=CALL_DEADLINE_SECONDS)
    return [_channel(c) for c in reply.channels]


@router.get("/notification/channels/status", response_model=list[ChannelHealthOut])
async def channel_status(_caller: NotificationConfigReadDep, client: NotificationClientDep) -> list[ChannelHealthOut]:
    """Each channel's health as last probed: up, degraded, token time left, recent failure rate."""
    reply = await client.ListChannelHealth(notification_pb2.ListChannelHealthRequest(), timeout=CALL_DEADLINE_SECONDS)
    return [
        ChannelHealthOut(
            channel=h.channel, kind=h.kind, up=h.up, degraded=h.degraded, detail=h.detail,
            token_expires_in_seconds=h.token_expires_in_seconds if h.token_expires_in_seconds >= 0 else None,
            recent_failure_rate=h.recent_failure_rate, checked_at=_time(h, "checked_at"),
        )
        for h in reply.channels
    ]


@router.get("/notification/channels/{name}", response_model=ChannelOut)
async def get_channel(name: NameDep, _caller: NotificationConfigReadDep, client: NotificationClientDep) -> ChannelOut:
    """One channel."""
    reply = await client.GetChannel(notification_pb2.GetChannelRequest(name=name), timeout=CALL_DEADLINE_SECONDS)
    return _channel(reply.channel)


@router.put("/notification/channels/{name}", response_model=ChannelOut)
async def put_channel(name: NameDep, body: ChannelIn, _caller: NotificationConfigUpdateDep, client: NotificationClientDep) -> ChannelOut:
    """Create or replace a channel; its credentials are referenced (Kubernetes Secret as env var or file)."""
    channel = notification_pb2.Channel(name=name, **body.model_dump())
    reply = await _put(
        client.PutChannel(notification_pb2.PutChannelRequest(channel=channel), timeout=CALL_DEADLINE_SECONDS), "channel."
    )
    return _channel(reply.channel)


@router.get("/notification/templates", response_model=list[TemplateOut])
async def list_templates(_caller: NotificationConfigReadDep, client: NotificationClientDep) -> list[TemplateOut]:
    """Saved templates (the built-in ones apply to kinds without one)."""
    reply = await client.ListTemplates(notification_pb2.ListTemplatesRequest(), timeout=CALL_DEADLINE_SECONDS)
    return [_template(t) for t in reply.templates]


@router.get("/notification/templates/{name}", response_model=TemplateOut)
async def get_template(name: NameDep, _caller: NotificationConfigReadDep, client: NotificationClientDep) -> TemplateOut:
    """A saved template, or the built-in one of that name."""
    reply = await client.GetTemplate(notification_pb2.GetTemplateRequest(name=name), timeout=CALL_DEADLINE_SECONDS)
    return _template(reply.template)


@router.put("/notification/templates/{name}", response_model=TemplateOut)
async def put_template(name: NameDep, body: TemplateIn, _caller: NotificationConfigUpdateDep, client: NotificationClientDep) -> TemplateOut:
    """Validate and save a template (422 names the broken field)."""
    template = notification_pb2.Template(name=name, **body.model_dump())
    reply = await _put(
        client.PutTemplate(notification_pb2.PutTemplateRequest(template=template), timeout=CALL_DEADLINE_SECONDS), "template."
    )
    return _template(reply.template)


@router.get("/notification/recipients/{recipient_id}", response_model=RecipientOut)
async def get_recipient(recipient_id: RecipientIdDep, _caller: NotificationConfigReadDep, client: NotificationClientDep) -> RecipientOut:
    """A recipient's addresses, quiet hours and fallback chain."""
    reply = await client.GetRecipient(notification_pb2.GetRecipientRequest(id=recipient_id), timeout=CALL_DEADLINE_SECONDS)
    return _recipient(reply.recipient)


@router.put("/notification/recipients/{recipient_id}", response_model=RecipientOut)
async def put_recipient(
    recipient_id: RecipientIdDep, body: RecipientIn, _caller: NotificationConfigUpdateDep, client: NotificationClientDep
) -> RecipientOut:
    """Create or replace a recipient, keyed by the same id as the rep (or manager, operations owner)."""
    recipient = notification_pb2.Recipient(id=recipient_id, **body.model_dump())
    reply = await _put(
        client.PutRecipient(notification_pb2.PutRecipientRequest(recipient=recipient), timeout=CALL_DEADLINE_SECONDS),
        "recipient.",
    )
    return _recipient(reply.recipient)


@router.get("/notification/escalation-chains/{team_id}", response_model=EscalationChainOut)
async def get_escalation_chain(team_id: RecipientIdDep, _caller: NotificationConfigReadDep, client: NotificationClientDep) -> EscalationChainOut:
    """A team's escalation chain (the default is the recipient's manager)."""
    reply = await client.GetEscalationChain(
        notification_pb2.GetEscalationChainRequest(team_id=team_id), timeout=CALL_DEADLINE_SECONDS
    )
    return _chain(reply.chain)


@router.put("/notification/escalation-chains/{team_id}", response_model=EscalationChainOut)
async def put_escalation_chain(
    team_id: RecipientIdDep, body: EscalationChainIn, _caller: NotificationConfigUpdateDep, client: NotificationClientDep
) -> EscalationChainOut:
    """Set who is told next, in order, when a lead waits too long or a notification fails for good."""
    chain = notification_pb2.EscalationChain(team_id=team_id, steps=body.steps)
    reply = await _put(
        client.PutEscalationChain(notification_pb2.PutEscalationChainRequest(chain=chain), timeout=CALL_DEADLINE_SECONDS),
        "chain.",
    )
    return _chain(reply.chain)


@router.post("/notifications", status_code=201, response_model=NotificationDetailOut)
async def send_notification(
    body: SendIn, idempotency_key: IdempotencyKeyDep, _caller: NotificationCreateDep, client: NotificationClientDep
) -> NotificationDetailOut:
    """Ask for a notification; a repeat with the same Idempotency-Key returns the first and sends nothing."""
    if not idempotency_key:
        raise Problem(422, "an Idempotency-Key header is required", errors=[FieldError("Idempotency-Key", "required")])
    request = notification_pb2.SendNotificationRequest(idempotency_key=idempotency_key, **body.model_dump())
    reply = await _put(client.SendNotification(request, timeout=CALL_DEADLINE_SECONDS), "")
    return _notification(reply.notification)


@router.get("/notifications/{notification_id}", response_model=NotificationDetailOut)
async def get_notification(
    notification_id: Annotated[str, Path(max_length=64)], _caller: NotificationReadDep, client: NotificationClientDep
) -> NotificationDetailOut:
    """A notification's status, reason, attempts and course through the recipient's channels."""
    reply = await client.GetNotification(
        notification_pb2.GetNotificationRequest(notification_id=notification_id), timeout=CALL_DEADLINE_SECONDS
    )
    return _notification(reply.notification)


@router.get("/notifications", response_model=list[NotificationDetailOut])
async def list_notifications(
    _caller: NotificationReadDep,
    client: NotificationClientDep,
    recipient_id: Annotated[str | None, Query(max_length=200)] = None,
    lead_id: Annotated[str | None, Query(max_length=200)] = None,
) -> list[NotificationDetailOut]:
    """Recent notifications, optionally for one recipient and/or about one lead."""
    reply = await client.ListNotifications(
        notification_pb2.ListNotificationsRequest(recipient_id=recipient_id or "", lead_id=lead_id or ""),
        timeout=CALL_DEADLINE_SECONDS,
    )
    return [_notification(n) for n in reply.notifications]
