"""Readiness tells strangers only ready or not and cannot be made to fan out; docs follow CRM_DOCS_ENABLED; a peer's
oversized error detail still arrives as the error it is."""

from __future__ import annotations

import asyncio
import secrets

import grpc
import httpx
import pytest

from crm.lead.v1 import lead_pb2, lead_pb2_grpc
from crm_common.errors import FieldViolation, InvalidArgument
from crm_common.grpc_server import GrpcServer
from gateway.api.routes.health import PeerHealth
from gateway.core.config import GatewaySettings, Role
from gateway.core.lead_trace import LeadTraceContext
from gateway.main import create_app
from gateway.tests.support import ADDRESS_FIELDS, api_keys, assert_problem, auth, closed_port, settings_for


async def test_readiness_tells_a_stranger_only_whether_it_is_ready(client: httpx.AsyncClient) -> None:
    assert (await client.get("/readyz")).json() == {"status": "ready"}
    assert (await client.get("/readyz", headers=auth(Role.VIEWER))).json() == {"status": "ready"}
    assert (await client.get("/readyz", headers={"Authorization": "Bearer not-a-key"})).json() == {"status": "ready"}


async def test_readiness_tells_an_admin_every_dependency(client: httpx.AsyncClient) -> None:
    body = (await client.get("/readyz", headers=auth(Role.ADMIN))).json()
    assert body["status"] == "ready"
    assert set(body["dependencies"]) == {
        "lead", "customer-master", "pipeline", "notification", "integration-gateway", "reporting"
    }


async def test_a_flood_of_readiness_requests_asks_the_peers_once(edge: LeadTraceContext) -> None:
    health = edge.app.state.peer_health = PeerHealth(max_age=60)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=edge), base_url="http://edge") as client:
        answers = await asyncio.gather(*(client.get("/readyz") for _ in range(50)))
    assert {a.status_code for a in answers} == {200}
    assert health.checks == 1


async def test_a_stale_answer_is_checked_again(edge: LeadTraceContext) -> None:
    health = edge.app.state.peer_health = PeerHealth(max_age=0)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=edge), base_url="http://edge") as client:
        for _ in range(3):
            assert (await client.get("/readyz")).status_code == 200
    assert health.checks == 3


@pytest.mark.parametrize(
    ("environment", "enabled", "served"),
    [("production", None, False), ("production", True, True), ("development", None, True), ("test", False, False)],
)
async def test_docs_follow_the_setting(environment: str, enabled: bool | None, served: bool) -> None:
    addresses = {f"{name}_addr": f"127.0.0.1:{closed_port()}" for name in ADDRESS_FIELDS}
    extra = {"identity_key": secrets.token_hex(32)} if environment == "production" else {}
    settings = GatewaySettings(environment=environment, api_keys=api_keys(), docs_enabled=enabled, **addresses, **extra)
    app = create_app(settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://edge") as client:
        for path in ("/docs", "/redoc"):
            assert (await client.get(path)).status_code == (200 if served else 404), path
        assert (await client.get("/openapi.json")).status_code == 200


class Verbose(lead_pb2_grpc.LeadServiceServicer):
    """A lead service whose refusal names thousands of fields with long descriptions."""

    async def CaptureLead(
        self, request: lead_pb2.CaptureLeadRequest, context: grpc.aio.ServicerContext
    ) -> lead_pb2.CaptureLeadResponse:
        raise InvalidArgument([FieldViolation(f"field_{i}", "值不合规则。" * 60) for i in range(3000)])


async def test_an_oversized_error_detail_arrives_as_the_error_it_is() -> None:
    server = GrpcServer(port=0, service_names=["crm.lead.v1.LeadService"])
    lead_pb2_grpc.add_LeadServiceServicer_to_server(Verbose(), server.server)
    await server.start()
    app = create_app(settings_for(dict.fromkeys(ADDRESS_FIELDS, f"127.0.0.1:{server.port}")))
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=LeadTraceContext(app))
            async with httpx.AsyncClient(transport=transport, base_url="http://edge") as client:
                response = await client.post("/v1/leads", json={"phone": "+8613800138000"}, headers=auth(Role.ADMIN))
    finally:
        await server.stop(0)
    # Not 429: the status's trailers stay under the client's metadata limit, so it is not RESOURCE_EXHAUSTED.
    body = assert_problem(response, 422)
    assert 0 < len(body["errors"]) < 3000
    assert body["errors"][0]["field"] == "field_0"
    assert "more violations not shown" in body["detail"]
