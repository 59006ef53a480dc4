"""The notification service: its definition and how its parts are wired."""

from __future__ import annotations

from pathlib import Path

import grpc

from crm.notification.v1 import notification_pb2_grpc
from crm_common.egress import http_client
from crm_common.service import Runtime, ServiceDefinition, Wiring
from notification import tables
from notification.channels import default_adapters
from notification.config_cache import ConfigCache
from notification.consumers import consumer_specs
from notification.dispatcher import Dispatcher
from notification.handlers import NotificationServicer
from notification.health import ChannelHealth
from notification.providers.tokens import TokenStore
from notification.registry import ChannelRegistry
from notification.settings import NotificationSettings, get_settings

DEFINITION = ServiceDefinition(
    name="notification",
    schema="notification",
    grpc_services=["crm.notification.v1.NotificationService"],
    metadata=tables.metadata,
    migrations_dir=Path(__file__).parent / "migrations",
    settings=get_settings,
)


async def build(runtime: Runtime) -> Wiring:
    """Servicer and consumers of one notification process."""
    settings = runtime.settings
    if not isinstance(settings, NotificationSettings):
        raise TypeError("the notification service needs NotificationSettings")
    adapters = default_adapters()
    if settings.lead_assigned_channel not in adapters:
        raise ValueError(
            f"CRM_LEAD_ASSIGNED_CHANNEL={settings.lead_assigned_channel!r} is not one of {sorted(adapters)}"
        )
    # Every provider call goes through the egress guard: checked, pinned address, no redirects.
    guard = settings.egress_guard()
    http = http_client(guard, timeout=settings.provider_timeout_seconds)
    tokens = TokenStore(runtime.db, refresh_margin=settings.token_refresh_margin_seconds)
    registry = ChannelRegistry(runtime.db, http=http, tokens=tokens, guard=guard, secrets=settings.secret_resolver())
    health = ChannelHealth(
        runtime.db, registry, interval=settings.probe_interval_seconds, failure_window=settings.failure_window_seconds
    )

    def wake_relay() -> None:
        # The relay is created after build(); look it up when there is something to publish.
        if runtime.relay is not None:
            runtime.relay.wake()

    dispatcher = Dispatcher(
        db=runtime.db, stage=runtime.stage, registry=registry, health=health, settings=settings, on_committed=wake_relay
    )
    servicer = NotificationServicer(runtime, registry=registry, on_queued=dispatcher.wake)
    # Templates and recipients read per event, cached for as long as this process hears of their changes.
    config = ConfigCache(runtime.db, runtime.libpq_url())

    def register(server: grpc.aio.Server) -> None:
        notification_pb2_grpc.add_NotificationServiceServicer_to_server(servicer, server)

    return Wiring(
        register=register,
        consumers=consumer_specs(
            runtime,
            adapters,
            channel=settings.lead_assigned_channel,
            on_queued=dispatcher.wake,
            linger_seconds=settings.consumer_linger_seconds,
        ),
        background=[dispatcher.run, health.run, config.run],
    )
