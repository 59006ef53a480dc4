"""gRPC NotificationService: notifications and their attempts, the inbox, channels, templates, recipients."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from crm.notification.v1 import notification_pb2, notification_pb2_grpc
from crm_common.egress import outbound_of
from crm_common.errors import FieldViolation, InvalidArgument, NotFound
from crm_common.service import Runtime
from notification import access, config_cache, config_repository, domain, intake, repository, templates
from notification.providers import IN_APP, validate_channel
from notification.providers.base import ChannelConfig
from notification.registry import ChannelRegistry
from notification.rendering import find_template, template_of


def _timestamp(at: datetime | None) -> Timestamp | None:
    if at is None:
        return None
    ts = Timestamp()
    ts.FromDatetime(at)
    return ts


def attempt_to_proto(row: Row) -> notification_pb2.Attempt:
    return notification_pb2.Attempt(
        number=row.number, channel=row.channel, outcome=row.outcome, detail=row.detail, at=_timestamp(row.at)
    )


def delivery_to_proto(row: Row) -> notification_pb2.Delivery:
    return notification_pb2.Delivery(
        channel=row.channel,
        status=row.status,
        attempts=row.attempts,
        last_error=row.last_error,
        next_attempt_at=_timestamp(row.next_attempt_at),
        updated_at=_timestamp(row.updated_at),
    )


def notification_to_proto(row: Row, attempts: Sequence[Row], deliveries: Sequence[Row] = ()) -> notification_pb2.Notification:
    return notification_pb2.Notification(
        id=str(row.id),
        recipient_id=row.recipient_id,
        channel=row.channel,
        lead_id=row.lead_id,
        kind=row.kind,
        status=domain.status_to_proto(row.status),
        reason=row.reason,
        body=row.body,
        attempts=[attempt_to_proto(a) for a in attempts],
        created_at=_timestamp(row.created_at),
        delivered_at=_timestamp(row.delivered_at),
        title=row.title,
        urgent=row.urgent,
        deliveries=[delivery_to_proto(d) for d in deliveries],
        escalated_to=row.escalated_to,
    )


async def _full(conn: AsyncConnection, row: Row) -> notification_pb2.Notification:
    """A notification with its attempts and deliveries."""
    attempts = await repository.list_attempts(conn, notification_id=row.id)
    deliveries = await repository.list_deliveries_of(conn, notification_ids=[row.id])
    return notification_to_proto(row, attempts, deliveries[row.id])


def channel_to_proto(row: Row) -> notification_pb2.Channel:
    return notification_pb2.Channel(
        name=row.name,
        kind=row.kind,
        settings={k: str(v) for k, v in (row.settings or {}).items()},
        secret_refs={k: str(v) for k, v in (row.secret_refs or {}).items()},
        rate_limit_per_minute=row.rate_limit_per_minute,
        enabled=row.enabled,
        updated_at=_timestamp(row.updated_at),
    )


def template_to_proto(template: templates.Template, updated_at: datetime | None = None) -> notification_pb2.Template:
    return notification_pb2.Template(
        name=template.name, title=template.title, body=template.body, placeholder=template.placeholder,
        fields=list(template.fields), updated_at=_timestamp(updated_at),
    )


def recipient_to_proto(row: Row) -> notification_pb2.Recipient:
    return notification_pb2.Recipient(
        id=row.id, name=row.name, team_id=row.team_id, manager_id=row.manager_id, wecom_user_id=row.wecom_user_id,
        mobile=row.mobile, email=row.email, dingtalk_mobile=row.dingtalk_mobile, fallback_chain=list(row.fallback_chain),
        quiet_start=row.quiet_start, quiet_end=row.quiet_end, time_zone=row.time_zone, updated_at=_timestamp(row.updated_at),
    )


def chain_to_proto(row: Row) -> notification_pb2.EscalationChain:
    return notification_pb2.EscalationChain(team_id=row.team_id, steps=list(row.steps), updated_at=_timestamp(row.updated_at))


def inbox_message_to_proto(row: Row) -> notification_pb2.InboxMessage:
    return notification_pb2.InboxMessage(
        id=str(row.id),
        recipient_id=row.recipient_id,
        notification_id=str(row.notification_id),
        title=row.title,
        body=row.body,
        created_at=_timestamp(row.created_at),
    )


@access.guarded
class NotificationServicer(notification_pb2_grpc.NotificationServiceServicer):
    """Translates NotificationService calls to repository reads."""

    def __init__(
        self, runtime: Runtime, *, registry: ChannelRegistry | None = None, on_queued: Callable[[], None] | None = None
    ) -> None:
        self.runtime = runtime
        self.registry = registry
        # Wakes the dispatcher when a notification waits for a provider (else it finds it at its next poll).
        self.on_queued = on_queued

    async def GetNotification(
        self, request: notification_pb2.GetNotificationRequest, context: grpc.aio.ServicerContext
    ) -> notification_pb2.GetNotificationResponse:
        try:
            notification_id = uuid.UUID(request.notification_id)
        except ValueError:
            # A malformed id names no notification; callers treat both the same way.
            raise NotFound(f"notification {request.notification_id!r} not found") from None
        async with self.runtime.db.connect() as conn:
            row = await repository.get_notification(conn, notification_id=notification_id)
            if row is None:
                raise NotFound(f"notification {request.notification_id} not found")
            found = await _full(conn, row)
        return notification_pb2.GetNotificationResponse(notification=await access.one(self.runtime, found))

    async def ListNotifications(
        self, request: notification_pb2.ListNotificationsRequest, context: grpc.aio.ServicerContext
    ) -> notification_pb2.ListNotificationsResponse:
        async with self.runtime.db.connect() as conn:
            rows = await repository.list_notifications(
                conn, lead_id=request.lead_id.strip(), recipient_id=request.recipient_id.strip()
            )
            attempts = await repository.list_attempts_of(conn, notification_ids=[r.id for r in rows])
            deliveries = await repository.list_deliveries_of(conn, notification_ids=[r.id for r in rows])
        found = [notification_to_proto(r, attempts[r.id], deliveries[r.id]) for r in rows]
        return notification_pb2.ListNotificationsResponse(notifications=await access.visible(self.runtime, found))

    async def ListInbox(
        self, request: notification_pb2.ListInboxRequest, context: grpc.aio.ServicerContext
    ) -> notification_pb2.ListInboxResponse:
        recipient_id = request.recipient_id.strip()
        if not recipient_id:
            raise InvalidArgument([FieldViolation("recipient_id", "required")])
        await access.inbox_of(self.runtime, recipient_id)
        async with self.runtime.db.connect() as conn:
            rows = await repository.list_inbox(conn, recipient_id=recipient_id)
        return notification_pb2.ListInboxResponse(messages=[inbox_message_to_proto(r) for r in rows])

    async def SendNotification(
        self, request: notification_pb2.SendNotificationRequest, context: grpc.aio.ServicerContext
    ) -> notification_pb2.SendNotificationResponse:
        problems = [
            FieldViolation(name, "required")
            for name in ("idempotency_key", "recipient_id", "template")
            if not getattr(request, name).strip()
        ]
        if problems:
            raise InvalidArgument(problems)
        key = f"api:{request.idempotency_key.strip()}"
        async with self.runtime.db.transaction() as conn:
            template = await find_template(conn, request.template.strip())
            if template is None:
                raise InvalidArgument([FieldViolation("template", f"no template named {request.template.strip()!r}")])
            rendered = templates.render(template, dict(request.fields))
            await intake.create(
                conn,
                intake.Intake(
                    idempotency_key=key,
                    recipient_id=request.recipient_id.strip(),
                    lead_id=request.lead_id.strip(),
                    kind=request.kind.strip() or template.name,
                    title=rendered.title,
                    body=rendered.body,
                    urgent=request.urgent,
                    event_at=datetime.now(UTC),
                ),
                stage=self.runtime.stage,
            )
            row = await repository.find_notification(conn, idempotency_key=key)
            assert row is not None
            notification = await _full(conn, row)
        if self.runtime.relay is not None:
            self.runtime.relay.wake()
        if self.on_queued is not None:
            self.on_queued()
        return notification_pb2.SendNotificationResponse(notification=notification)

    async def PutChannel(
        self, request: notification_pb2.PutChannelRequest, context: grpc.aio.ServicerContext
    ) -> notification_pb2.PutChannelResponse:
        channel = request.channel
        config = ChannelConfig(
            name=channel.name.strip(), kind=channel.kind.strip(), settings=dict(channel.settings),
            secret_refs=dict(channel.secret_refs), rate_limit_per_minute=channel.rate_limit_per_minute,
        )
        problems = await validate_channel(config, outbound=outbound_of(self.runtime.settings))
        if problems:
            raise InvalidArgument([FieldViolation(f"channel.{p.field}", p.description) for p in problems])
        async with self.runtime.db.transaction() as conn:
            row = await config_repository.upsert_channel(
                conn, name=config.name, kind=config.kind, settings=config.settings, secret_refs=config.secret_refs,
                rate_limit_per_minute=config.rate_limit_per_minute, enabled=channel.enabled, at=datetime.now(UTC),
            )
        if self.registry is not None:
            self.registry.invalidate()
        return notification_pb2.PutChannelResponse(channel=channel_to_proto(row))

    async def GetChannel(
        self, request: notification_pb2.GetChannelRequest, context: grpc.aio.ServicerContext
    ) -> notification_pb2.GetChannelResponse:
        async with self.runtime.db.connect() as conn:
            row = await config_repository.get_channel(conn, name=request.name.strip())
        if row is None:
            raise NotFound(f"channel {request.name.strip()!r} not found")
        return notification_pb2.GetChannelResponse(channel=channel_to_proto(row))

    async def ListChannels(
        self, request: notification_pb2.ListChannelsRequest, context: grpc.aio.ServicerContext
    ) -> notification_pb2.ListChannelsResponse:
        async with self.runtime.db.connect() as conn:
            rows = await config_repository.list_channels(conn)
        return notification_pb2.ListChannelsResponse(channels=[channel_to_proto(r) for r in rows])

    async def ListChannelHealth(
        self, request: notification_pb2.ListChannelHealthRequest, context: grpc.aio.ServicerContext
    ) -> notification_pb2.ListChannelHealthResponse:
        async with self.runtime.db.connect() as conn:
            rows = await config_repository.list_channels(conn)
            health = await config_repository.list_health(conn)
        now = datetime.now(UTC)
        reports = [notification_pb2.ChannelHealth(channel=IN_APP, kind=IN_APP, up=True, detail="the service's own database")]
        for row in rows:
            found = health.get(row.name)
            if not row.enabled:
                reports.append(notification_pb2.ChannelHealth(channel=row.name, kind=row.kind, detail="disabled"))
                continue
            if found is None:
                reports.append(notification_pb2.ChannelHealth(channel=row.name, kind=row.kind, detail="not probed yet"))
                continue
            expires = (found.token_expires_at - now).total_seconds() if found.token_expires_at else -1.0
            reports.append(
                notification_pb2.ChannelHealth(
                    channel=row.name, kind=row.kind, up=found.up, degraded=found.degraded, detail=found.detail,
                    token_expires_in_seconds=expires, recent_failure_rate=found.failure_rate,
                    checked_at=_timestamp(found.checked_at),
                )
            )
        return notification_pb2.ListChannelHealthResponse(channels=reports)

    async def PutTemplate(
        self, request: notification_pb2.PutTemplateRequest, context: grpc.aio.ServicerContext
    ) -> notification_pb2.PutTemplateResponse:
        given = request.template
        template = templates.Template(
            name=given.name.strip(), title=given.title, body=given.body,
            placeholder=given.placeholder if given.placeholder else templates.DEFAULT_PLACEHOLDER,
        )
        problems = templates.validate(template)
        if problems:
            raise InvalidArgument([FieldViolation(f"template.{p.field}", p.description) for p in problems])
        fields = list(dict.fromkeys(templates.fields_of(template.title) + templates.fields_of(template.body)))
        async with self.runtime.db.transaction() as conn:
            row = await config_repository.upsert_template(
                conn, name=template.name, title=template.title, body=template.body, placeholder=template.placeholder,
                fields=fields, at=datetime.now(UTC),
            )
        config_cache.changed(self.runtime.db)
        return notification_pb2.PutTemplateResponse(template=template_to_proto(template_of(row), row.updated_at))

    async def GetTemplate(
        self, request: notification_pb2.GetTemplateRequest, context: grpc.aio.ServicerContext
    ) -> notification_pb2.GetTemplateResponse:
        async with self.runtime.db.connect() as conn:
            row = await config_repository.get_template(conn, name=request.name.strip())
        if row is not None:
            return notification_pb2.GetTemplateResponse(template=template_to_proto(template_of(row), row.updated_at))
        built_in = templates.BUILT_IN.get(request.name.strip())
        if built_in is None:
            raise NotFound(f"template {request.name.strip()!r} not found")
        fields = tuple(dict.fromkeys(templates.fields_of(built_in.title) + templates.fields_of(built_in.body)))
        return notification_pb2.GetTemplateResponse(template=template_to_proto(templates.Template(
            built_in.name, built_in.title, built_in.body, built_in.placeholder, fields
        )))

    async def ListTemplates(
        self, request: notification_pb2.ListTemplatesRequest, context: grpc.aio.ServicerContext
    ) -> notification_pb2.ListTemplatesResponse:
        async with self.runtime.db.connect() as conn:
            rows = await config_repository.list_templates(conn)
        return notification_pb2.ListTemplatesResponse(templates=[template_to_proto(template_of(r), r.updated_at) for r in rows])

    async def PutRecipient(
        self, request: notification_pb2.PutRecipientRequest, context: grpc.aio.ServicerContext
    ) -> notification_pb2.PutRecipientResponse:
        given = request.recipient
        problems: list[FieldViolation] = []
        if not given.id.strip():
            problems.append(FieldViolation("recipient.id", "required"))
        for name in ("quiet_start", "quiet_end"):
            try:
                domain.parse_clock(getattr(given, name))
            except ValueError as err:
                problems.append(FieldViolation(f"recipient.{name}", str(err)))
        if bool(given.quiet_start.strip()) != bool(given.quiet_end.strip()):
            problems.append(FieldViolation("recipient.quiet_end", "quiet hours need both a start and an end"))
        time_zone = given.time_zone.strip() or "Asia/Shanghai"
        try:
            ZoneInfo(time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(FieldViolation("recipient.time_zone", "not an IANA time zone"))
        chain = [c.strip() for c in given.fallback_chain]
        async with self.runtime.db.transaction() as conn:
            known = {r.name for r in await config_repository.list_channels(conn)} | {IN_APP}
            for i, name in enumerate(chain):
                if name not in known:
                    problems.append(FieldViolation(f"recipient.fallback_chain[{i}]", f"no channel named {name!r}"))
            if len(set(chain)) != len(chain):
                problems.append(FieldViolation("recipient.fallback_chain", "a channel may appear once"))
            if problems:
                raise InvalidArgument(problems)
            values = {
                "name": given.name.strip(), "team_id": given.team_id.strip(), "manager_id": given.manager_id.strip(),
                "wecom_user_id": given.wecom_user_id.strip(), "mobile": given.mobile.strip(), "email": given.email.strip(),
                "dingtalk_mobile": given.dingtalk_mobile.strip(), "fallback_chain": chain,
                "quiet_start": given.quiet_start.strip(), "quiet_end": given.quiet_end.strip(), "time_zone": time_zone,
            }
            row = await config_repository.upsert_recipient(conn, recipient_id=given.id.strip(), values=values, at=datetime.now(UTC))
        config_cache.changed(self.runtime.db)
        return notification_pb2.PutRecipientResponse(recipient=recipient_to_proto(row))

    async def GetRecipient(
        self, request: notification_pb2.GetRecipientRequest, context: grpc.aio.ServicerContext
    ) -> notification_pb2.GetRecipientResponse:
        async with self.runtime.db.connect() as conn:
            row = await config_repository.get_recipient(conn, recipient_id=request.id.strip())
        if row is None:
            raise NotFound(f"recipient {request.id.strip()!r} not found")
        return notification_pb2.GetRecipientResponse(recipient=await access.recipient(self.runtime, recipient_to_proto(row)))

    async def PutEscalationChain(
        self, request: notification_pb2.PutEscalationChainRequest, context: grpc.aio.ServicerContext
    ) -> notification_pb2.PutEscalationChainResponse:
        team_id = request.chain.team_id.strip()
        steps = [s.strip() for s in request.chain.steps]
        problems = [] if team_id else [FieldViolation("chain.team_id", "required")]
        if not steps:
            problems.append(FieldViolation("chain.steps", "at least one step: 'manager' or a recipient id"))
        problems += [FieldViolation(f"chain.steps[{i}]", "empty step") for i, s in enumerate(steps) if not s]
        if problems:
            raise InvalidArgument(problems)
        async with self.runtime.db.transaction() as conn:
            row = await config_repository.upsert_escalation_chain(conn, team_id=team_id, steps=steps, at=datetime.now(UTC))
        config_cache.changed(self.runtime.db)
        return notification_pb2.PutEscalationChainResponse(chain=chain_to_proto(row))

    async def GetEscalationChain(
        self, request: notification_pb2.GetEscalationChainRequest, context: grpc.aio.ServicerContext
    ) -> notification_pb2.GetEscalationChainResponse:
        async with self.runtime.db.connect() as conn:
            row = await config_repository.get_escalation_chain(conn, team_id=request.team_id.strip())
        if row is None:
            # Every team has a chain: the default is the recipient's manager alone.
            return notification_pb2.GetEscalationChainResponse(
                chain=notification_pb2.EscalationChain(team_id=request.team_id.strip(), steps=[domain.MANAGER_STEP])
            )
        return notification_pb2.GetEscalationChainResponse(chain=chain_to_proto(row))
