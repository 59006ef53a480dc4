"""Integration routes through the edge against a real integration service (PostgreSQL, NATS, loopback receiver)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from standardwebhooks import Webhook

from crm_common.grpc_server import GrpcServer
from crm_common.settings import PeerAddresses
from gateway.core.config import Role
from gateway.main import create_app
from gateway.tests.support import ADDRESS_FIELDS, assert_problem, auth, settings_for
from integration_gateway.app import DEFINITION, build
from integration_gateway.tests.conftest import start_lead_stand_in
from integration_gateway.tests.receiver import Receiver, eventually
from services.conftest import pg_server_url, service_runtime, workdir  # noqa: F401  (real infrastructure fixtures)

os.environ.setdefault("CRM_CUSTOMER_MASTER_ADDR", "127.0.0.1:1")
ADMIN, SYSTEM, MANAGER, VIEWER = auth(Role.ADMIN), auth(Role.SYSTEM), auth(Role.MANAGER), auth(Role.VIEWER)
SECRET = "whsec_" + base64.b64encode(b"s" * 32).decode()


@pytest.fixture
async def edge(service_runtime) -> AsyncIterator[tuple[httpx.AsyncClient, Receiver]]:  # noqa: F811
    lead_server, _ = await start_lead_stand_in()
    receiver = await Receiver().start()
    async with service_runtime(
        DEFINITION, outbound_allowed_networks="127.0.0.0/8", delivery_poll_seconds=0.05,
        dependency_probe_interval_seconds=0.2,
    ) as runtime:
        runtime.peers = PeerAddresses(lead_addr=f"127.0.0.1:{lead_server.port}", notification_addr="127.0.0.1:1")
        wiring = await build(runtime)
        server = GrpcServer(port=0, service_names=DEFINITION.grpc_services)
        wiring.register(server.server)
        await server.start()
        background = [asyncio.create_task(job()) for job in wiring.background]
        addresses = dict.fromkeys(ADDRESS_FIELDS, f"127.0.0.1:{server.port}")
        app = create_app(settings_for(addresses))
        try:
            async with app.router.lifespan_context(app):
                async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://edge") as client:
                    yield client, receiver
        finally:
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            await server.stop(0)
            await receiver.stop()
            await lead_server.stop(0)


def signed_headers(body: bytes, *, webhook_id: str, secret: str = SECRET) -> dict[str, str]:
    now = datetime.now(UTC)
    return {
        "content-type": "application/json",
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(webhook_id, now, body),
    }


async def test_a_signed_source_posts_without_an_api_key(edge) -> None:
    api, _ = edge
    assert_problem(await api.put("/v1/integrations/sources/partner-a", json={"secret": SECRET}, headers=MANAGER), 403)
    assert_problem(await api.put("/v1/integrations/sources/partner-a", json={"secret": "x"}, headers=ADMIN), 422, "secret")
    put = await api.put(
        "/v1/integrations/sources/partner-a",
        json={"secret": SECRET, "mapping": {"phone": "who.tel", "name": "who.name"}, "kind": "partner"}, headers=ADMIN,
    )
    assert put.status_code == 200 and put.json()["signed"] and "secret" not in put.json()
    body = json.dumps({"who": {"name": "李雷", "tel": "13800138000"}}).encode()
    first = await api.post("/v1/webhooks/partner-a", content=body, headers=signed_headers(body, webhook_id="msg_a1"))
    assert first.status_code == 201, first.text
    repeat_body = json.dumps({"who": {"name": "other", "tel": "13900139000"}}).encode()
    repeat = await api.post(
        "/v1/webhooks/partner-a", content=repeat_body, headers=signed_headers(repeat_body, webhook_id="msg_a1")
    )
    assert repeat.status_code == 200 and repeat.json()["id"] == first.json()["id"]
    forged = signed_headers(body, webhook_id="msg_a2", secret="whsec_" + base64.b64encode(b"f" * 32).decode())
    assert_problem(await api.post("/v1/webhooks/partner-a", content=body, headers=forged), 401)
    # An unsigned source is no way in without a key, whatever headers come with it.
    assert_problem(
        await api.post("/v1/webhooks/plain-src", content=body, headers=signed_headers(body, webhook_id="m3")), 401
    )
    assert_problem(await api.post("/v1/webhooks/plain-src", json={"phone": "13800138000"}), 401)


async def test_subscriptions_through_the_edge(edge) -> None:
    api, receiver = edge
    assert_problem(await api.post("/v1/subscriptions", json={"url": receiver.url, "events": ["lead.*"]}, headers=VIEWER), 403)
    refused = await api.post(
        "/v1/subscriptions", json={"url": "http://169.254.169.254/latest", "events": ["lead.*"]}, headers=SYSTEM
    )
    assert_problem(refused, 422, "url")
    assert_problem(await api.post("/v1/subscriptions", json={"url": receiver.url, "events": ["lead.won"]}, headers=SYSTEM), 422, "events[0]")
    created = await api.post(
        "/v1/subscriptions", json={"url": receiver.url, "events": ["customer.*", "opportunity.won"]}, headers=SYSTEM
    )
    assert created.status_code == 201 and created.json()["secret"].startswith("whsec_")
    sid = created.json()["id"]
    got = (await api.get(f"/v1/subscriptions/{sid}", headers=SYSTEM)).json()
    assert got["status"] == "active" and got["events"] == ["customer.*", "opportunity.won"] and not got["secret"]
    listed = await api.get(f"/v1/subscriptions/{sid}/deliveries?status=failed", headers=ADMIN)
    assert listed.status_code == 200 and listed.json() == {"deliveries": []}
    assert_problem(await api.get(f"/v1/subscriptions/{sid}/deliveries?status=lost", headers=ADMIN), 422, "status")
    recovered = await api.post(f"/v1/subscriptions/{sid}/recover", json={"since": "2026-12-01T00:00:00Z"}, headers=ADMIN)
    assert recovered.json() == {"requeued": 0}
    assert_problem(await api.post(f"/v1/subscriptions/{sid}/recover", json={}, headers=ADMIN), 422, "since")
    rotated = await api.post(f"/v1/subscriptions/{sid}/rotate", json={"overlap_seconds": 60}, headers=ADMIN)
    assert rotated.json()["secret"] != created.json()["secret"] and rotated.json()["previous_secret_until"]
    assert_problem(await api.get(f"/v1/subscriptions/{uuid.uuid4()}", headers=ADMIN), 404)
    missing = await api.post(f"/v1/subscriptions/{sid}/deliveries/{uuid.uuid4()}/replay", headers=ADMIN)
    assert_problem(missing, 404)


async def test_the_dependency_register(edge) -> None:
    api, receiver = edge
    put = await api.put(
        "/v1/integrations/dependencies/finance",
        json={"kind": "system", "sla": "99.9%", "owner": "fin-ops", "probe_url": receiver.url}, headers=ADMIN,
    )
    assert put.status_code == 200
    assert_problem(await api.put("/v1/integrations/dependencies/x", json={"kind": "system"}, headers=VIEWER), 403)

    async def probed() -> bool:
        listed = (await api.get("/v1/dependencies", headers=VIEWER)).json()
        return any(d["name"] == "finance" and d["up"] and d["last_probe_at"] for d in listed)

    await eventually(probed)
    listed = (await api.get("/v1/dependencies", headers=VIEWER)).json()
    [finance] = [d for d in listed if d["name"] == "finance"]
    assert set(finance) == {"name", "kind", "up", "since", "last_probe_at", "sla", "owner", "detail"}
    assert finance["sla"] == "99.9%" and finance["owner"] == "fin-ops" and finance["since"]
