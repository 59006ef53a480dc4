"""A dispatcher wired to the provider stand-ins, with channels and recipients created through the gRPC API."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import grpc
from google.protobuf.message import Message
from nats import errors as nats_errors
from sqlalchemy import select, update

from crm.notification.v1 import notification_pb2
from crm_common.bus.consumer import EventMeta
from crm_common.egress import http_client
from crm_common.service import Runtime
from notification.channels import InAppInboxAdapter
from notification.consumers import notify_assignee
from notification.dispatcher import Dispatcher
from notification.handlers import NotificationServicer
from notification.health import ChannelHealth
from notification.providers.tokens import TokenStore
from notification.registry import ChannelRegistry
from notification.settings import NotificationSettings
from notification.tables import attempts, channels, deliveries, notifications

from . import providers as p
from .helpers import lead_assigned, meta
from .providers import Providers

SECRETS = {
    "CRM_SECRET_TEST_WECOM_CORP_SECRET": p.CORP_SECRET,
    "CRM_SECRET_TEST_WECOM_ROBOT_KEY": p.ROBOT_KEY,
    "CRM_SECRET_TEST_DING_TOKEN": p.DING_TOKEN,
    "CRM_SECRET_TEST_DING_SECRET": p.DING_SECRET,
    "CRM_SECRET_TEST_SMS_API_KEY": p.SMS_API_KEY,
    "CRM_SECRET_TEST_WEBHOOK_SECRET": p.WEBHOOK_SECRET,
    "CRM_SECRET_TEST_SMTP_CA": p.SMTP_CA_PEM,
}


class _Context:
    """Enough of a grpc.aio.ServicerContext for handlers that do not use it."""

    def invocation_metadata(self) -> tuple:
        return ()


CONTEXT: grpc.aio.ServicerContext = _Context()  # type: ignore[assignment]


@dataclass
class Kit:
    """Everything a delivery test drives, and the names of this test's own channels."""

    runtime: Runtime
    providers: Providers
    servicer: NotificationServicer
    dispatcher: Dispatcher
    registry: ChannelRegistry
    health: ChannelHealth
    tokens: TokenStore
    created: list[str]

    async def channel(self, kind: str, **overrides: object) -> str:
        """Create a channel of a kind on the stand-ins (unique name per test); returns its name."""
        name = f"{kind.replace('_', '-')}-{uuid.uuid4().hex[:6]}"
        base = self.providers.base_url
        configs: dict[str, tuple[dict[str, str], dict[str, str]]] = {
            "wecom_app": ({"base_url": base, "corp_id": p.CORP_ID, "agent_id": "1000002"}, {"corp_secret": "env:CRM_SECRET_TEST_WECOM_CORP_SECRET"}),
            "wecom_robot": ({"base_url": base}, {"key": "env:CRM_SECRET_TEST_WECOM_ROBOT_KEY"}),
            "dingtalk_robot": ({"base_url": base}, {"access_token": "env:CRM_SECRET_TEST_DING_TOKEN", "sign_secret": "env:CRM_SECRET_TEST_DING_SECRET"}),
            "sms": ({"base_url": base, "sign_name": "CRM"}, {"api_key": "env:CRM_SECRET_TEST_SMS_API_KEY"}),
            "smtp": ({"host": "127.0.0.1", "port": str(self.providers.smtp_port), "sender": "crm@example.com"}, {"ca_bundle": "env:CRM_SECRET_TEST_SMTP_CA"}),
            "webhook": ({"url": f"{base}/hook"}, {"signing_secret": "env:CRM_SECRET_TEST_WEBHOOK_SECRET"}),
        }
        settings, refs = configs[kind]
        settings = {**settings, **overrides.pop("settings", {})}  # type: ignore[dict-item]
        refs = {**refs, **overrides.pop("secret_refs", {})}  # type: ignore[dict-item]
        channel = notification_pb2.Channel(
            name=name, kind=kind, settings=settings, secret_refs=refs, enabled=True,
            rate_limit_per_minute=int(overrides.pop("rate_limit_per_minute", 0)),  # type: ignore[call-overload]
        )
        await self.servicer.PutChannel(notification_pb2.PutChannelRequest(channel=channel), CONTEXT)
        self.created.append(name)
        return name

    async def recipient(self, chain: list[str], **fields: str) -> str:
        """A recipient profile reached through `chain` (channel names); returns its id."""
        recipient_id = fields.pop("id", "") or str(uuid.uuid4())
        defaults = {
            "name": "Wang Fang", "wecom_user_id": f"wf{recipient_id[:6]}", "mobile": "+8613812345678",
            "email": f"{recipient_id[:8]}@example.com", "time_zone": "Asia/Shanghai",
        }
        recipient = notification_pb2.Recipient(id=recipient_id, fallback_chain=chain, **{**defaults, **fields})
        await self.servicer.PutRecipient(notification_pb2.PutRecipientRequest(recipient=recipient), CONTEXT)
        return recipient_id

    async def assign(self, recipient_id: str, *, event_id: str | None = None, **fields: str) -> str:
        """Deliver a LeadAssigned event to the consumer (as JetStream would); returns the lead id."""
        event = lead_assigned(assignee_id=recipient_id, **fields)
        event_meta: EventMeta = meta(event_id=event_id)
        async with self.runtime.db.transaction() as conn:
            await notify_assignee(
                conn, event, event_meta, runtime=self.runtime, adapters={"in_app": InAppInboxAdapter()}, channel="in_app"
            )
        return event.lead_id

    async def make_due(self) -> None:
        """Bring every waiting retry forward to now (instead of sleeping through the backoff)."""
        async with self.runtime.db.transaction() as conn:
            await conn.execute(
                update(deliveries).where(deliveries.c.status.in_(("pending", "retrying"))).values(next_attempt_at=deliveries.c.created_at)
            )

    async def drain(self, rounds: int = 20) -> None:
        """Dispatch (bringing retries forward) until nothing is due."""
        for _ in range(rounds):
            await self.make_due()
            if not await self.dispatcher.dispatch_once():
                return

    async def notification(self, lead_id: str) -> notification_pb2.Notification:
        """The one notification about a lead, with its attempts and deliveries."""
        reply = await self.servicer.ListNotifications(notification_pb2.ListNotificationsRequest(lead_id=lead_id), CONTEXT)
        [found] = reply.notifications
        return found

    async def published(self, subject: str, message_type: type[Message], lead_id: str) -> list:
        """The events about a lead published on a subject so far (waits for the relay to publish them)."""
        js = self.runtime.js
        assert js is not None
        found: list = []
        for _ in range(100):  # the relay publishes within milliseconds of the commit
            sub = await js.pull_subscribe(subject, stream="CRM_NOTIFICATION")
            found = []
            with contextlib.suppress(TimeoutError, nats_errors.TimeoutError):
                while True:
                    for msg in await sub.fetch(100, timeout=0.2):
                        await msg.ack()
                        payload = message_type.FromString(msg.data)
                        if getattr(payload, "lead_id", "") == lead_id:
                            found.append(payload)
            await sub.unsubscribe()
            if found:
                return found
        return found

    async def attempts_of(self, lead_id: str) -> list[tuple[str, str]]:
        async with self.runtime.db.connect() as conn:
            ids = select(notifications.c.id).where(notifications.c.lead_id == lead_id)
            rows = (await conn.execute(select(attempts).where(attempts.c.notification_id.in_(ids)).order_by(attempts.c.number))).all()
        return [(r.channel, r.outcome) for r in rows]


def status_name(notification: notification_pb2.Notification) -> str:
    return notification_pb2.NotificationStatus.Name(notification.status).removeprefix("NOTIFICATION_STATUS_").lower()


@contextlib.asynccontextmanager
async def make_kit(runtime: Runtime, providers: Providers, **settings: object) -> AsyncIterator[Kit]:
    base = runtime.settings
    assert isinstance(base, NotificationSettings)
    tuned = base.model_copy(
        update={
            "retry_base_seconds": 0.01, "retry_jitter": 0.0, "provider_timeout_seconds": 1.0,
            "max_attempts_per_channel": 4, "send_lease_seconds": 30.0, **settings,
        }
    )
    guard = tuned.egress_guard()
    async with http_client(guard, timeout=tuned.provider_timeout_seconds) as http:
        tokens = TokenStore(runtime.db, refresh_margin=tuned.token_refresh_margin_seconds)
        registry = ChannelRegistry(
            runtime.db, http=http, tokens=tokens, guard=guard, secrets=tuned.secret_resolver(), reload_seconds=0.0
        )
        health = ChannelHealth(runtime.db, registry, interval=1.0, failure_window=tuned.failure_window_seconds)
        dispatcher = Dispatcher(db=runtime.db, stage=runtime.stage, registry=registry, health=health, settings=tuned)
        servicer = NotificationServicer(runtime, registry=registry)
        kit = Kit(runtime, providers, servicer, dispatcher, registry, health, tokens, [])
        try:
            yield kit
        finally:
            # Leave no work for the next test's dispatcher: this test's channels go away with its stand-ins.
            async with runtime.db.transaction() as conn:
                await conn.execute(update(channels).where(channels.c.name.in_(kit.created)).values(enabled=False))
                await conn.execute(
                    update(deliveries)
                    .where(deliveries.c.status.in_(("pending", "retrying", "sending")))
                    .values(status="abandoned-by-test")
                )



