"""Rate limits hold across edge replicas: two apps share one real nats-server, and fail open without it."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack
from pathlib import Path

import httpx
import pytest

from gateway.core.config import Role
from gateway.core.lead_trace import LeadTraceContext
from gateway.core.ratelimit import Rate, RateLimits, gcra
from gateway.main import create_app
from gateway.tests.support import ADDRESS_FIELDS, Doubles, assert_problem, auth, closed_port, settings_for
from tools.devstack import infra

# A rate over an hour: each test's requests come far quicker than one every 12 minutes, so none is earned back.
FIVE_AN_HOUR = "5/hour"


@pytest.fixture(scope="module")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[infra.NatsServer]:
    server = infra.NatsServer(Path(tmp_path_factory.mktemp("nats")))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def replicas(
    doubles: Doubles, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Callable[..., list[httpx.AsyncClient]]]:
    """`replicas(nats_url, n, **limits)`: n edge apps, each a client, all counting in the same store."""
    async with AsyncExitStack() as stack:

        async def open_replicas(nats_url: str, n: int, *, ready: bool = True, **limits: object) -> list[httpx.AsyncClient]:
            # A bucket of the test's own, so that tests never share counts; a patient store on a busy test machine.
            monkeypatch.setenv("CRM_RATE_LIMIT_BUCKET", f"rl_{uuid.uuid4().hex[:12]}")
            monkeypatch.setenv("CRM_RATE_LIMIT_STORE_TIMEOUT_SECONDS", "10")
            monkeypatch.setenv("CRM_RATE_LIMITS", json.dumps(limits))
            clients = []
            for _ in range(n):
                app = create_app(settings_for(dict.fromkeys(ADDRESS_FIELDS, doubles.address), nats_url=nats_url))
                await stack.enter_async_context(app.router.lifespan_context(app))
                stack.push_async_callback(app.state.rate_limiter.close)
                if ready:
                    await app.state.rate_limiter.ready()
                transport = httpx.ASGITransport(app=LeadTraceContext(app))
                clients.append(await stack.enter_async_context(httpx.AsyncClient(transport=transport, base_url="http://edge")))
            return clients

        yield open_replicas


def _webhook(client: httpx.AsyncClient, source: str, role: Role = Role.SYSTEM) -> object:
    return client.post(f"/v1/webhooks/{source}", json={"name": "王芳", "phone": "13812345678"}, headers=auth(role))


async def test_an_api_keys_limit_holds_across_two_replicas(nats_server, replicas) -> None:
    a, b = await replicas(nats_server.url, 2, per_api_key=FIVE_AN_HOUR)
    answers = [await (a if i % 2 else b).get("/v1/teams", headers=auth(Role.ADMIN)) for i in range(5)]
    assert [r.status_code for r in answers] == [200] * 5  # each replica alone has seen fewer than 5

    refused = await a.get("/v1/teams", headers=auth(Role.ADMIN))
    assert_problem(refused, 429)
    assert 1 <= int(refused.headers["Retry-After"]) <= 720
    assert (await b.get("/v1/teams", headers=auth(Role.ADMIN))).status_code == 429
    # Another key is another caller.
    assert (await b.get("/v1/teams", headers=auth(Role.MANAGER))).status_code == 200


async def test_concurrent_requests_of_one_key_on_two_replicas_admit_exactly_its_burst(nats_server, replicas) -> None:
    a, b = await replicas(nats_server.url, 2, per_api_key="10/hour")
    answers = await asyncio.gather(*(c.get("/v1/teams", headers=auth(Role.ADMIN)) for c in [a, b] * 12))
    assert Counter(r.status_code for r in answers) == {200: 10, 429: 14}


async def test_a_webhook_sources_limit_holds_whatever_key_sends_it(nats_server, replicas) -> None:
    a, b = await replicas(nats_server.url, 2, per_webhook_source="3/hour")
    sent = [await _webhook(c, "acme", role) for c, role in ((a, Role.SYSTEM), (b, Role.ADMIN), (b, Role.SYSTEM))]
    assert [r.status_code for r in sent] == [201] * 3

    refused = await _webhook(a, "acme", Role.ADMIN)
    assert_problem(refused, 429)
    assert "Retry-After" in refused.headers
    assert (await _webhook(b, "other-partner")).status_code == 201


async def test_an_override_by_key_name_and_no_nats_means_per_process(replicas) -> None:
    [edge] = await replicas("", 1, per_api_key="1000/minute", overrides={"key:test viewer": "2/hour"})
    statuses = [(await edge.get("/v1/teams", headers=auth(Role.VIEWER))).status_code for _ in range(3)]
    assert statuses == [403, 403, 429]  # counted before the route refuses a viewer
    assert (await edge.get("/v1/teams", headers=auth(Role.ADMIN))).status_code == 200


async def test_the_limit_fails_open_when_nats_is_unreachable(replicas) -> None:
    [edge] = await replicas(f"nats://127.0.0.1:{closed_port()}", 1, ready=False, per_api_key="1/hour")
    statuses = [(await edge.get("/v1/teams", headers=auth(Role.ADMIN))).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]


def test_gcra_allows_the_burst_then_one_per_interval() -> None:
    rate = Rate.parse("3/minute")
    tat, waits = None, []
    for _ in range(4):
        tat, wait = gcra(tat, 1000.0, rate)
        waits.append(wait)
    assert waits == [0.0, 0.0, 0.0, 20.0]
    assert gcra(tat, 1020.0, rate)[1] == 0.0


def test_bad_limits_are_refused_naming_the_rate() -> None:
    with pytest.raises(ValueError, match="not a rate"):
        RateLimits(per_api_key="lots")
    with pytest.raises(ValueError, match="must name"):
        RateLimits(overrides={"acme": "1/second"})
    assert Rate.parse("100/10s") == Rate(100, 10)
