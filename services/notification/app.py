"""The notification service: its definition and how its parts are wired."""

from __future__ import annotations

from pathlib import Path

import grpc

from crm.notification.v1 import notification_pb2_grpc
from crm_common.service import Runtime, ServiceDefinition, Wiring
from notification import tables
from notification.channels import default_adapters
from notification.consumers import consumer_specs
from notification.handlers import NotificationServicer
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
    servicer = NotificationServicer(runtime)

    def register(server: grpc.aio.Server) -> None:
        notification_pb2_grpc.add_NotificationServiceServicer_to_server(servicer, server)

    return Wiring(register=register, consumers=consumer_specs(runtime, adapters, channel=settings.lead_assigned_channel))
