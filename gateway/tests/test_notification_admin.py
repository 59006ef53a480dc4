"""Notification administration through the edge: roles, validation, field names, and what reaches the service."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import httpx
import pytest

from crm.notification.v1 import notification_pb2, notification_pb2_grpc
from crm_common.errors import FieldViolation, InvalidArgument, NotFound
from crm_common.grpc_server import GrpcServer
from gateway.core.config import Role
from gateway.core.lead_trace import LeadTraceContext
from gateway.main import create_app
from gateway.tests.support import ADDRESS_FIELDS, assert_problem, auth, closed_port, settings_for


class NotificationAdminDouble(notification_pb2_grpc.NotificationServiceServicer):
    """Keeps what it is given; refuses a plain secret the way the service does (naming the request field)."""

    def __init__(self) -> None:
        self.channels: dict[str, notification_pb2.Channel] = {}
        self.recipients: dict[str, notification_pb2.Recipient] = {}
        self.sent: dict[str, notification_pb2.Notification] = {}

    async def PutChannel(self, request: notification_pb2.PutChannelRequest, context: grpc.aio.ServicerContext) -> notification_pb2.PutChannelResponse:
        for key, ref in request.channel.secret_refs.items():
            if not ref.startswith(("env:", "file:")):
                raise InvalidArgument([FieldViolation(f"channel.secret_refs.{key}", "must be a reference")])
        self.channels[request.channel.name] = request.channel
        return notification_pb2.PutChannelResponse(channel=request.channel)

    async def GetChannel(self, request: notification_pb2.GetChannelRequest, context: grpc.aio.ServicerContext) -> notification_pb2.GetChannelResponse:
        if request.name not in self.channels:
            raise NotFound(f"channel {request.name!r} not found")
        return notification_pb2.GetChannelResponse(channel=self.channels[request.name])

    async def ListChannelHealth(
        self, request: notification_pb2.ListChannelHealthRequest, context: grpc.aio.ServicerContext
    ) -> notification_pb2.ListChannelHealthResponse:
        return notification_pb2.ListChannelHealthResponse(
            channels=[
                notification_pb2.ChannelHealth(channel="in_app", kind="in_app", up=True, token_expires_in_seconds=-1),
                notification_pb2.ChannelHealth(
                    channel="wecom", kind="wecom_app", up=False, degraded=True, detail="errcode 40001",
                    token_expires_in_seconds=-1, recent_failure_rate=1.0,
                ),
            ]
        )

    async def PutRecipient(self, request: notification_pb2.PutRecipientRequest, context: grpc.aio.ServicerContext) -> notification_pb2.PutRecipientResponse:
        self.recipients[request.recipient.id] = request.recipient
        return notification_pb2.PutRecipientResponse(recipient=request.recipient)

    async def GetRecipient(self, request: notification_pb2.GetRecipientRequest, context: grpc.aio.ServicerContext) -> notification_pb2.GetRecipientResponse:
        if request.id not in self.recipients:
            raise NotFound(f"recipient {request.id!r} not found")
        return notification_pb2.GetRecipientResponse(recipient=self.recipients[request.id])

    async def PutTemplate(self, request: notification_pb2.PutTemplateRequest, context: grpc.aio.ServicerContext) -> notification_pb2.PutTemplateResponse:
        if request.template.title.count("{") != request.template.title.count("}"):
            raise InvalidArgument([FieldViolation("template.title", "expected '}' before end of string")])
        return notification_pb2.PutTemplateResponse(template=request.template)

    async def SendNotification(
        self, request: notification_pb2.SendNotificationRequest, context: grpc.aio.ServicerContext
    ) -> notification_pb2.SendNotificationResponse:
        if request.idempotency_key not in self.sent:
            self.sent[request.idempotency_key] = notification_pb2.Notification(
                id=f"n-{len(self.sent) + 1}", recipient_id=request.recipient_id, channel="wecom", kind=request.kind or request.template,
                status=notification_pb2.NOTIFICATION_STATUS_PENDING, title=f"{request.template}: {dict(request.fields)}",
                urgent=request.urgent, deliveries=[notification_pb2.Delivery(channel="wecom", status="pending")],
            )
        return notification_pb2.SendNotificationResponse(notification=self.sent[request.idempotency_key])


@pytest.fixture(scope="module")
async def admin_client() -> AsyncIterator[tuple[httpx.AsyncClient, NotificationAdminDouble]]:
    double = NotificationAdminDouble()
    server = GrpcServer(port=0, service_names=["crm.notification.v1.NotificationService"])
    notification_pb2_grpc.add_NotificationServiceServicer_to_server(double, server.server)
    await server.start()
    await server.serving(True)
    addresses = dict.fromkeys(ADDRESS_FIELDS, f"127.0.0.1:{closed_port()}")
    addresses["notification"] = f"127.0.0.1:{server.port}"
    app = create_app(settings_for(addresses))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=LeadTraceContext(app))
        async with httpx.AsyncClient(transport=transport, base_url="http://edge") as client:
            yield client, double
    await server.stop(0)


WECOM = {
    "kind": "wecom_app",
    "settings": {"corp_id": "ww1", "agent_id": "1000002"},
    "secret_refs": {"corp_secret": "env:WECOM_CORP_SECRET"},
}


async def test_admin_puts_a_channel_and_reads_it_back_with_references_only(admin_client: tuple[httpx.AsyncClient, NotificationAdminDouble]) -> None:
    client, double = admin_client
    put = await client.put("/v1/notification/channels/wecom", json=WECOM, headers=auth(Role.ADMIN))
    assert put.status_code == 200, put.text
    assert double.channels["wecom"].settings["corp_id"] == "ww1"
    got = (await client.get("/v1/notification/channels/wecom", headers=auth(Role.MANAGER))).json()
    assert (got["name"], got["kind"], got["secret_refs"], got["enabled"]) == ("wecom", "wecom_app", {"corp_secret": "env:WECOM_CORP_SECRET"}, True)


async def test_a_plain_secret_is_422_naming_the_body_field(admin_client: tuple[httpx.AsyncClient, NotificationAdminDouble]) -> None:
    client, _ = admin_client
    body = {**WECOM, "secret_refs": {"corp_secret": "the-real-secret"}}
    response = await client.put("/v1/notification/channels/wecom2", json=body, headers=auth(Role.ADMIN))
    problem = assert_problem(response, 422, "secret_refs.corp_secret")
    assert "the-real-secret" not in response.text
    assert problem["status"] == 422


@pytest.mark.parametrize("role", [Role.MANAGER, Role.SALES_REP, Role.VIEWER, Role.SYSTEM])
async def test_only_admins_configure_channels_recipients_and_templates(
    admin_client: tuple[httpx.AsyncClient, NotificationAdminDouble], role: Role
) -> None:
    client, _ = admin_client
    for path, body in (
        ("/v1/notification/channels/x", WECOM),
        ("/v1/notification/recipients/r1", {"fallback_chain": ["wecom"]}),
        ("/v1/notification/templates/t", {"title": "t", "body": "b"}),
        ("/v1/notification/escalation-chains/team1", {"steps": ["manager"]}),
    ):
        assert_problem(await client.put(path, json=body, headers=auth(role)), 403)


async def test_recipient_round_trip_and_unknown_recipient_is_404(admin_client: tuple[httpx.AsyncClient, NotificationAdminDouble]) -> None:
    client, _ = admin_client
    body = {"name": "王芳", "wecom_user_id": "wangfang", "mobile": "+8613812345678", "fallback_chain": ["wecom", "sms", "email"],
            "quiet_start": "22:00", "quiet_end": "08:00"}
    put = await client.put("/v1/notification/recipients/rep-1", json=body, headers=auth(Role.ADMIN))
    assert put.status_code == 200, put.text
    got = (await client.get("/v1/notification/recipients/rep-1", headers=auth(Role.SYSTEM))).json()
    assert (got["id"], got["fallback_chain"], got["quiet_start"], got["time_zone"]) == ("rep-1", ["wecom", "sms", "email"], "22:00", "Asia/Shanghai")
    assert_problem(await client.get("/v1/notification/recipients/nobody", headers=auth(Role.ADMIN)), 404)


async def test_template_saved_with_a_broken_field_is_422_naming_title(admin_client: tuple[httpx.AsyncClient, NotificationAdminDouble]) -> None:
    client, _ = admin_client
    response = await client.put("/v1/notification/templates/lead_assigned", json={"title": "New {lead_name", "body": "b"}, headers=auth(Role.ADMIN))
    assert_problem(response, 422, "title")


async def test_channel_status_shows_degraded_channels_to_viewers(admin_client: tuple[httpx.AsyncClient, NotificationAdminDouble]) -> None:
    client, _ = admin_client
    status = (await client.get("/v1/notification/channels/status", headers=auth(Role.VIEWER))).json()
    assert [(s["channel"], s["up"], s["degraded"], s["token_expires_in_seconds"]) for s in status] == [
        ("in_app", True, False, None), ("wecom", False, True, None)
    ]


async def test_send_needs_an_idempotency_key_and_a_repeat_returns_the_first(admin_client: tuple[httpx.AsyncClient, NotificationAdminDouble]) -> None:
    client, double = admin_client
    body = {"recipient_id": "rep-1", "template": "lead_escalated", "fields": {"lead_id": "L1"}, "urgent": True}
    assert_problem(await client.post("/v1/notifications", json=body, headers=auth(Role.SYSTEM)), 422, "Idempotency-Key")
    headers = {**auth(Role.SYSTEM), "Idempotency-Key": "send-1"}
    first = await client.post("/v1/notifications", json=body, headers=headers)
    again = await client.post("/v1/notifications", json=body, headers=headers)
    assert first.status_code == 201, first.text
    assert first.json()["id"] == again.json()["id"] and len(double.sent) == 1
    sent = first.json()
    assert (sent["status"], sent["urgent"], sent["deliveries"][0]["channel"]) == ("pending", True, "wecom")
    assert_problem(await client.post("/v1/notifications", json=body, headers={**auth(Role.VIEWER), "Idempotency-Key": "v"}), 403)
