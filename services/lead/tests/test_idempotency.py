"""What a capture trusts from its caller: keys scoped to it and bound to one body, a tier only from a system."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import grpc
import pytest
import pytest_asyncio
from sqlalchemy import func, select

from crm.lead.v1 import lead_pb2, lead_pb2_grpc
from crm_common.errors import field_violations_of
from crm_common.grpc_client import channel_as
from crm_common.grpc_server import GrpcServer
from crm_common.identity import Principal, Role, service_principal, user_principal
from lead.app import DEFINITION, build
from lead.capture.idempotency import SCOPE_METADATA_KEY
from lead.tables import idempotency_keys, leads

PARTNER = [(SCOPE_METADATA_KEY, "webhook:acme")]


@pytest_asyncio.fixture
async def served(runtime) -> AsyncIterator[Callable[[Principal], lead_pb2_grpc.LeadServiceStub]]:
    """The lead service on a free port; `served(principal)` is a stub whose calls carry that identity."""
    wiring = await build(runtime)
    server = GrpcServer(port=0, service_names=DEFINITION.grpc_services)
    wiring.register(server.server)
    await server.start()
    channels: list[grpc.aio.Channel] = []

    def stub(principal: Principal) -> lead_pb2_grpc.LeadServiceStub:
        channels.append(channel_as(f"127.0.0.1:{server.port}", principal))
        return lead_pb2_grpc.LeadServiceStub(channels[-1])

    yield stub
    for channel in channels:
        await channel.close()
    await server.stop(0)


def _capture(phone: str, key: str, notes: str = "", channel: str = "web_form") -> lead_pb2.CaptureLeadRequest:
    source = lead_pb2.Source(channel=channel)
    return lead_pb2.CaptureLeadRequest(
        lead=lead_pb2.LeadInput(name="王芳", phone=phone, notes=notes, source=source), idempotency_key=key
    )


async def _count(runtime, table=leads) -> int:
    async with runtime.db.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(table)))


async def test_another_reps_key_is_another_key_and_never_shows_their_lead(runtime, served) -> None:
    admin = served(user_principal(Role.ADMIN))
    team = (await admin.CreateTeam(lead_pb2.CreateTeamRequest(name="East"), timeout=10)).team
    a, b = [
        (await admin.CreateRep(lead_pb2.CreateRepRequest(name=n, team_id=team.id), timeout=10)).rep.id
        for n in ("A", "B")
    ]
    rule = lead_pb2.RoutingRule(name="default", priority=100, team_id=team.id)
    await admin.PutRoutingRule(lead_pb2.PutRoutingRuleRequest(rule=rule), timeout=10)
    rep_a = served(user_principal(Role.SALES_REP, rep_id=a, subject="apikey:rep-a"))
    rep_b = served(user_principal(Role.SALES_REP, rep_id=b, subject="apikey:rep-b"))

    first = await rep_a.CaptureLead(_capture("13812345678", "form-1", notes="A's private note"), timeout=10)
    other = await rep_b.CaptureLead(_capture("13900001111", "form-1", notes="B's lead"), timeout=10)

    assert first.created and other.created
    assert other.lead.id != first.lead.id
    assert "A's private note" not in other.lead.input.notes
    again = await rep_a.CaptureLead(_capture("13812345678", "form-1", notes="A's private note"), timeout=10)
    assert (again.lead.id, again.created) == (first.lead.id, False)
    assert await _count(runtime) == 2


async def test_a_webhook_shaped_key_from_a_person_does_not_preempt_the_partner(runtime, served) -> None:
    rep = served(user_principal(Role.ADMIN, subject="apikey:rep-a"))
    # The integration gateway speaks for the partner: its own identity, acting for the edge's caller.
    gateway = served(service_principal("integration_gateway", on_behalf_of=user_principal(Role.SYSTEM)))

    squatted = await rep.CaptureLead(_capture("13812345678", "webhook:acme:k9", notes="rep's"), timeout=10)
    partner = await gateway.CaptureLead(
        _capture("13700002222", "webhook:acme:k9", channel="partner"), timeout=10, metadata=PARTNER
    )

    assert partner.created and partner.lead.id != squatted.lead.id
    assert partner.lead.input.phone == "+8613700002222"
    # The retry job calls as the service alone (no user behind it): the same scope, so the same lead.
    retry = served(service_principal("integration_gateway"))
    again = await retry.CaptureLead(
        _capture("13700002222", "webhook:acme:k9", channel="partner"), timeout=10, metadata=PARTNER
    )
    assert (again.lead.id, again.created) == (partner.lead.id, False)


async def test_the_same_key_with_another_body_is_refused_naming_the_header(runtime, served) -> None:
    rep = served(user_principal(Role.ADMIN, subject="apikey:rep-a"))
    await rep.CaptureLead(_capture("13812345678", "form-2", notes="first"), timeout=10)

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await rep.CaptureLead(_capture("13812345678", "form-2", notes="changed"), timeout=10)

    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in field_violations_of(refused.value)] == ["Idempotency-Key"]
    assert await _count(runtime) == 1


async def test_a_quarantined_submission_keeps_its_key_and_body(runtime, served) -> None:
    rep = served(user_principal(Role.ADMIN, subject="apikey:rep-a"))
    request = _capture("13812345678", "form-3", notes="test")
    request.lead.name = "测试"
    held = await rep.CaptureLead(request, timeout=10)
    assert held.quarantined
    again = await rep.CaptureLead(request, timeout=10)
    assert again.quarantined and again.quarantine.id == held.quarantine.id
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await rep.CaptureLead(_capture("13812345678", "form-3", notes="other"), timeout=10)
    assert [v.field for v in field_violations_of(refused.value)] == ["Idempotency-Key"]


async def test_concurrent_repeats_of_one_key_make_one_lead(runtime, served) -> None:
    rep = served(user_principal(Role.ADMIN, subject="apikey:rep-a"))
    replies = await asyncio.gather(*(rep.CaptureLead(_capture("13812345678", "form-4"), timeout=10) for _ in range(6)))
    assert len({r.lead.id for r in replies}) == 1
    assert sum(r.created for r in replies) == 1
    assert await _count(runtime) == 1
    assert await _count(runtime, idempotency_keys) == 1


async def test_a_tier_a_person_sets_does_not_steer_routing_but_a_systems_does(runtime, served) -> None:
    admin = served(user_principal(Role.ADMIN))
    teams = {}
    for name in ("Key accounts", "Inside"):
        team = (await admin.CreateTeam(lead_pb2.CreateTeamRequest(name=name), timeout=10)).team
        rep = (await admin.CreateRep(lead_pb2.CreateRepRequest(name=name, team_id=team.id), timeout=10)).rep
        teams[name] = (team.id, rep.id)
    strategic = {"customer_tier": lead_pb2.StringList(values=["strategic"])}
    rules = [
        lead_pb2.RoutingRule(name="strategic", priority=10, team_id=teams["Key accounts"][0], conditions=strategic),
        lead_pb2.RoutingRule(name="rest", priority=100, team_id=teams["Inside"][0]),
    ]
    await admin.PublishRoutingRules(lead_pb2.PublishRoutingRulesRequest(rules=rules), timeout=10)
    rep = served(user_principal(Role.SALES_REP, rep_id=teams["Inside"][1], subject="apikey:rep-a"))
    system = served(user_principal(Role.SYSTEM, subject="apikey:erp"))

    by_rep = _capture("13812345678", "")
    by_rep.lead.customer_tier = "strategic"
    by_system = _capture("13900001111", "")
    by_system.lead.customer_tier = "strategic"
    from_rep = (await rep.CaptureLead(by_rep, timeout=10)).lead
    from_system = (await system.CaptureLead(by_system, timeout=10)).lead

    assert (from_rep.assignee_id, from_rep.input.customer_tier) == (teams["Inside"][1], "")
    assert (from_system.assignee_id, from_system.input.customer_tier) == (teams["Key accounts"][1], "strategic")
