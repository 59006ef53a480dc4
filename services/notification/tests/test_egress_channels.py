"""Channels and the egress guard: refused when saved, a visible failure when called, no provider reply in status."""

from __future__ import annotations

import asyncio
import copy

import httpx
import pytest
from aiosmtpd.smtp import SMTP

from crm.notification.v1 import notification_pb2, notification_pb2_grpc
from crm_common.egress import EgressGuard
from crm_common.errors import DomainError, NotFound
from crm_common.grpc_server import GrpcServer
from crm_common.secret_refs import SecretResolver
from crm_common.service import Runtime
from gateway.core.config import Role
from gateway.main import create_app
from gateway.tests.support import ADDRESS_FIELDS, assert_problem, auth, closed_port, settings_for
from notification.handlers import NotificationServicer
from notification.providers.base import ChannelConfig
from notification.providers.sms import SmsAdapter

from . import providers as p
from .kit import CONTEXT, Kit, make_kit, status_name
from .providers import MailSink, Providers


def fields_of(err: DomainError) -> list[str]:
    return sorted(v.field for v in getattr(err, "violations", []))


def channel(name: str, kind: str, settings: dict[str, str], refs: dict[str, str]) -> notification_pb2.PutChannelRequest:
    return notification_pb2.PutChannelRequest(
        channel=notification_pb2.Channel(name=name, kind=kind, settings=settings, secret_refs=refs, enabled=True)
    )


def strict_servicer(runtime: Runtime) -> NotificationServicer:
    """The servicer of a process that allows no private network (the production default)."""
    strict = copy.copy(runtime)
    strict.settings = runtime.settings.model_copy(update={"outbound_allowed_networks": ""})
    return NotificationServicer(strict)


async def test_issue_reproduction_loopback_base_url_and_a_process_variable_are_refused_at_save(kit: Kit) -> None:
    request = channel("sms-ssrf", "sms", {"base_url": "http://127.0.0.1:8999"}, {"api_key": "env:CRM_DATABASE_URL"})
    with pytest.raises(DomainError) as err:
        await strict_servicer(kit.runtime).PutChannel(request, CONTEXT)
    assert fields_of(err.value) == ["channel.secret_refs.api_key", "channel.settings.base_url"]
    assert "loopback" in str(err.value) and "CRM_SECRET_" in str(err.value)
    # Where the operator allowed loopback, the reference alone is still refused; nothing was saved either time.
    with pytest.raises(DomainError) as err:
        await kit.servicer.PutChannel(request, CONTEXT)
    assert fields_of(err.value) == ["channel.secret_refs.api_key"]
    with pytest.raises(NotFound):
        await kit.servicer.GetChannel(notification_pb2.GetChannelRequest(name="sms-ssrf"), CONTEXT)

    # With the network allowed and a CRM_SECRET_ variable, the same channel works.
    sms = await kit.channel("sms", secret_refs={"api_key": "env:CRM_SECRET_TEST_SMS_API_KEY"})
    rep = await kit.recipient([sms], mobile="+8613900000011")
    lead_id = await kit.assign(rep)
    await kit.drain()
    assert status_name(await kit.notification(lead_id)) == "sent"
    assert len(kit.providers.state.to("sms", "+8613900000011")) == 1


async def test_every_destination_setting_of_every_kind_is_checked_at_save(kit: Kit) -> None:
    cases = [
        ("webhook", {"url": "http://169.254.169.254/latest/meta-data"}, {"signing_secret": "env:CRM_SECRET_X"}, "settings.url"),
        ("webhook", {"url": "https://93.184.216.34/hook", "probe_url": "http://[fd00:ec2::254]/"},
         {"signing_secret": "env:CRM_SECRET_X"}, "settings.probe_url"),
        ("dingtalk_robot", {"base_url": "http://[::1]:8080"}, {"access_token": "env:CRM_SECRET_A", "sign_secret": "env:CRM_SECRET_B"},
         "settings.base_url"),
        ("wecom_robot", {"base_url": "http://100.64.0.1"}, {"key": "env:CRM_SECRET_K"}, "settings.base_url"),
        ("wecom_app", {"base_url": "https://user:pw@93.184.216.34", "corp_id": "c", "agent_id": "1"},
         {"corp_secret": "env:CRM_SECRET_C"}, "settings.base_url"),
        ("smtp", {"host": "10.0.0.5", "sender": "crm@example.com"}, {}, "settings.host"),
        ("smtp", {"host": "127.0.0.1", "sender": "crm@example.com", "tls": "none"},
         {"username": "env:CRM_SECRET_U", "password": "env:CRM_SECRET_P"}, "settings.tls"),
        ("smtp", {"host": "127.0.0.1", "sender": "crm@example.com", "tls": "ssl3"}, {}, "settings.tls"),
        ("sms", {"base_url": "https://93.184.216.34"}, {"api_key": "file:/etc/passwd"}, "secret_refs.api_key"),
    ]
    for kind, settings, refs, field in cases:
        with pytest.raises(DomainError) as err:
            await kit.servicer.PutChannel(channel(f"bad-{kind}", kind, settings, refs), CONTEXT)
        assert fields_of(err.value) == [f"channel.{field}"], (kind, settings)


async def test_a_refused_destination_at_call_time_fails_the_delivery_visibly_and_sends_nothing(
    runtime: Runtime, providers: Providers
) -> None:
    # Saved by a process that allows loopback, sent by one that does not (its allowance was withdrawn).
    async with make_kit(runtime, providers, outbound_allowed_networks="") as kit:
        sms, smtp = await kit.channel("sms"), await kit.channel("smtp")
        rep = await kit.recipient([sms, smtp], mobile="+8613900000012", email="guarded@example.com")
        lead_id = await kit.assign(rep)
        await kit.drain()
        await kit.health.probe_once()
        found = await kit.notification(lead_id)
        health = await kit.servicer.ListChannelHealth(notification_pb2.ListChannelHealthRequest(), CONTEXT)
    assert status_name(found) == "failed"
    assert [(d.channel, d.status) for d in found.deliveries] == [(sms, "failed"), (smtp, "failed")]
    for delivery in found.deliveries:
        assert "destination refused: 127.0.0.1 is loopback" in delivery.last_error
    assert providers.state.to("sms", "+8613900000012") == [] and providers.mail.messages == []
    by_name = {h.channel: h for h in health.channels}
    for name in (sms, smtp):
        assert not by_name[name].up and "destination refused" in by_name[name].detail


async def test_a_providers_reply_never_comes_back_verbatim_in_channel_status_or_attempts(kit: Kit) -> None:
    sms = await kit.channel("sms", settings={"base_url": f"{kit.providers.base_url}/echo"})
    rep = await kit.recipient([sms], mobile="+8613900000013")
    lead_id = await kit.assign(rep)
    await kit.drain()
    await kit.health.probe_once()
    assert kit.providers.state.calls["echo"] >= 2  # the listener was called and answered with what it got
    health = await kit.servicer.ListChannelHealth(notification_pb2.ListChannelHealthRequest(), CONTEXT)
    [status] = [h for h in health.channels if h.channel == sms]
    found = await kit.notification(lead_id)
    shown = [status.detail, found.reason, *(a.detail for a in found.attempts), *(d.last_error for d in found.deliveries)]
    assert status.detail.startswith("account: ") and "sms: " in found.deliveries[0].last_error
    for text in shown:
        assert p.SMS_API_KEY not in text and "sms-api-key" not in text
        assert "<" not in text and "authorization" not in text.lower() and len(text) <= 500


async def test_mail_over_implicit_tls_and_a_server_without_starttls_is_refused_not_sent_in_clear(kit: Kit) -> None:
    implicit_sink, plain_sink = MailSink(), MailSink()
    tls = p.smtp_tls_context()
    loop = asyncio.get_running_loop()
    implicit = await loop.create_server(lambda: SMTP(implicit_sink, hostname="localhost"), "127.0.0.1", 0, ssl=tls)
    plain = await loop.create_server(lambda: SMTP(plain_sink, hostname="localhost"), "127.0.0.1", 0)
    try:
        port_of = {name: server.sockets[0].getsockname()[1] for name, server in (("implicit", implicit), ("plain", plain))}
        on_465 = await kit.channel("smtp", settings={"port": str(port_of["implicit"]), "tls": "implicit"})
        default = await kit.channel("smtp", settings={"port": str(port_of["plain"])})
        opted_out = await kit.channel("smtp", settings={"port": str(port_of["plain"]), "tls": "none"})
        reps = [await kit.recipient([c], email=f"{i}@example.com") for i, c in enumerate((on_465, default, opted_out))]
        leads = [await kit.assign(rep) for rep in reps]
        await kit.drain()
        statuses = [status_name(await kit.notification(lead)) for lead in leads]
        refused = await kit.notification(leads[1])
    finally:
        implicit.close()
        plain.close()
    assert statuses == ["sent", "failed", "sent"]
    assert [m[0] for m in implicit_sink.messages] == ["0@example.com"]
    # STARTTLS is the default: a server that does not offer it gets no mail, and the reason says why.
    assert "does not offer STARTTLS" in refused.deliveries[0].last_error
    assert [m[0] for m in plain_sink.messages] == ["2@example.com"]


def test_a_secret_is_hidden_before_a_provider_text_is_cut_so_no_part_of_it_survives(providers: Providers) -> None:
    sms = SmsAdapter(
        ChannelConfig(name="s", kind="sms", settings={}, secret_refs={"api_key": "env:CRM_SECRET_TEST_SMS_API_KEY"}),
        http=None, tokens=None, guard=EgressGuard(), secrets=SecretResolver(),  # type: ignore[arg-type]
    )
    cut_inside_the_secret = "x" * 50 + p.SMS_API_KEY
    for text in (sms.quote(cut_inside_the_secret), sms.quote_code(p.SMS_API_KEY), sms.scrub(f"error {p.SMS_API_KEY} there", 20)):
        assert "sms-api" not in text
    assert sms.quote(f"invalid key {p.SMS_API_KEY}") == "invalid key (hidden)"
    assert sms.quote('{"Code": "x"}') == "(message withheld: not plain text)"
    assert sms.quote_code("isv.BUSINESS_LIMIT_CONTROL") == "isv.BUSINESS_LIMIT_CONTROL"


async def test_the_edge_answers_the_issue_reproduction_with_422_naming_both_fields(kit: Kit) -> None:
    server = GrpcServer(port=0, service_names=["crm.notification.v1.NotificationService"])
    notification_pb2_grpc.add_NotificationServiceServicer_to_server(strict_servicer(kit.runtime), server.server)
    await server.start()
    await server.serving(True)
    addresses = dict.fromkeys(ADDRESS_FIELDS, f"127.0.0.1:{closed_port()}") | {"notification": f"127.0.0.1:{server.port}"}
    app = create_app(settings_for(addresses))
    body = {"kind": "sms", "settings": {"base_url": "http://127.0.0.1:8999"}, "secret_refs": {"api_key": "env:CRM_DATABASE_URL"}}
    try:
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://edge") as client:
                response = await client.put("/v1/notification/channels/sms-ssrf", json=body, headers=auth(Role.ADMIN))
    finally:
        await server.stop(0)
    assert_problem(response, 422, "secret_refs.api_key", "settings.base_url")
