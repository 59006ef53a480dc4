"""The reports' REST contract against a real reporting service (its own PostgreSQL), on the known story."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import tempfile
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import pytest_asyncio

from crm.reporting.v1 import reporting_pb2_grpc
from crm_common.bus.consumer import EventMeta
from crm_common.grpc_server import GrpcServer
from crm_common.migrations import upgrade_to_head
from crm_common.service import Runtime
from gateway.core.config import ApiKey, GatewaySettings, Role
from gateway.main import create_app
from gateway.tests.support import ADDRESS_FIELDS, api_keys, assert_problem, auth, closed_port
from reporting.app import DEFINITION
from reporting.handlers import ReportingServicer
from reporting.projections.consumers import CONSUMERS
from reporting.reports import runner
from reporting.settings import ReportingSettings
from reporting.tests.known_events import Story, story
from tools.devstack import infra

MANAGER_KEY = "test-key-manager-reports-0123456789abcdef"
REP_KEY = "test-key-rep-reports-0123456789abcdef"
MANAGER, REP = {"Authorization": f"Bearer {MANAGER_KEY}"}, {"Authorization": f"Bearer {REP_KEY}"}
ADMIN, VIEWER = auth(Role.ADMIN), auth(Role.VIEWER)


def _key(raw: str, role: Role, **kw: Any) -> ApiKey:
    return ApiKey(key_sha256=hashlib.sha256(raw.encode()).hexdigest(), role=role, name=raw[9:24], **kw)


async def _apply(runtime: Runtime, s: Story) -> None:
    handlers = {spec.subject: spec.handler for spec in CONSUMERS}
    for subject, message in s.events:
        meta = EventMeta(event_id=str(uuid.uuid4()), subject=subject, published_at=datetime.now(UTC), delivery=1)
        async with runtime.db.transaction() as conn:
            await handlers[subject](conn, message, meta)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def edge() -> AsyncIterator[tuple[httpx.AsyncClient, Story]]:
    """The edge whose reporting address is a real reporting service holding the known story."""
    with tempfile.TemporaryDirectory(prefix="crm-gw-reporting-") as tmp:
        pg = infra.PostgresServer(Path(tmp) / "pg")
        pg.start()
        try:
            with psycopg.connect(pg.libpq_url, autocommit=True) as conn:
                conn.execute('CREATE DATABASE "rp"')
            url = pg.url.rsplit("/", 1)[0] + "/rp"
            await asyncio.to_thread(upgrade_to_head, DEFINITION.migrations_dir, url=url, schema=DEFINITION.schema)
            runtime = Runtime(DEFINITION, ReportingSettings(environment="test", database_url=url))
            known = story()
            await _apply(runtime, known)
            server = GrpcServer(port=0, service_names=DEFINITION.grpc_services)
            reporting_pb2_grpc.add_ReportingServiceServicer_to_server(ReportingServicer(runtime), server.server)
            await server.start()
            addresses = dict.fromkeys(ADDRESS_FIELDS, f"127.0.0.1:{closed_port()}")
            addresses["reporting"] = f"127.0.0.1:{server.port}"
            keys = [*api_keys(), _key(MANAGER_KEY, Role.MANAGER, team_ids=(known.t1, known.t2)),
                    _key(REP_KEY, Role.SALES_REP, rep_id=known.r1)]
            settings = GatewaySettings(environment="test", api_keys=keys,
                                       **{f"{name}_addr": addresses[name] for name in ADDRESS_FIELDS})
            app = create_app(settings)
            async with app.router.lifespan_context(app):
                async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://edge") as client:
                    yield client, known
            await server.stop(0)
            await runtime.close()
        finally:
            pg.stop()


async def test_funnel_and_assignment_health_by_role(edge: tuple[httpx.AsyncClient, Story]) -> None:
    client, known = edge
    got = await client.get("/v1/reports/funnel", params={"from": "2025-03-01", "to": "2025-03-31",
                                                         "group_by": "team"}, headers=MANAGER)
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["stale"] is False and body["as_of"]
    by_team = {row["group"]["team"]: row for row in body["rows"]}
    assert by_team[known.t1]["leads"] == 3 and by_team[known.t1]["stages"] == {"qualify": 2, "demo": 2, "won": 1,
                                                                              "lost": 1}
    assert by_team[known.t2] == {"group": {"team": known.t2}, "leads": 1, "opportunities": 0, "stages": {},
                                 "won": 0, "lost": 0}
    rep = (await client.get("/v1/reports/assignment-health", params={"date": "2025-03-02"}, headers=REP)).json()
    # R1's rows only: L1 (60 s) and L2 (now R1's, first assigned after 120 s).
    assert (rep["captured"], rep["assigned"], rep["pool_returns"], rep["double_assignments"]) == (2, 2, 1, 0)
    assert rep["time_to_assignment"]["p50"] == pytest.approx(90.0)
    cells = (await client.get("/v1/reports/stage-actions", params={"pipeline": known.pipeline},
                              headers=VIEWER)).json()["cells"]
    assert [(c["stage"], c["action"], c["missing"]) for c in cells] == [("demo", "demo_done", 2),
                                                                        ("qualify", "needs_analysis", 2)]
    drill = await client.get(f"/v1/reports/stage-actions/qualify/needs_analysis?pipeline={known.pipeline}",
                             headers=ADMIN)
    assert [o["opportunity_id"] for o in drill.json()["opportunities"]] == [known.opps["O2"], known.opps["O3"]]
    dwell = (await client.get("/v1/reports/sub-state-dwell", params={"pipeline": known.pipeline, "month": "2025-03"},
                              headers=MANAGER)).json()
    assert [(c["sub_state"], c["stays"], c["p50_hours"]) for c in dwell["cells"]] == [("calling", 3, 2.0)]
    kpi = (await client.get("/v1/reports/kpi", headers=ADMIN)).json()
    assert kpi["receivables_attainment"] is None and {"new_leads_today", "as_of", "stale"} <= kpi.keys()


async def test_bad_parameters_are_422_naming_the_field(edge: tuple[httpx.AsyncClient, Story]) -> None:
    client, _ = edge
    assert_problem(await client.get("/v1/reports/funnel?from=March", headers=ADMIN), 422, "from")
    assert_problem(await client.get("/v1/reports/funnel?group_by=team,colour", headers=ADMIN), 422, "group_by")
    assert_problem(await client.get("/v1/reports/funnel?from=2025-03-05&to=2025-03-01", headers=ADMIN), 422, "to")
    assert_problem(await client.get("/v1/reports/funnel/export?format=pdf", headers=ADMIN), 422, "format")
    assert_problem(await client.get("/v1/reports/sub-state-dwell?month=2025-13", headers=ADMIN), 422, "month")


async def test_exports_stream_watermarked_audited_and_never_to_reps(edge: tuple[httpx.AsyncClient, Story]) -> None:
    client, known = edge
    got = await client.get(f"/v1/reports/stage-actions/qualify/needs_analysis/export?pipeline={known.pipeline}",
                           headers=ADMIN | {"X-Request-ID": "req-42", "User-Agent": "excel-bot"})
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
    first, *rest = got.text.splitlines()
    assert first.startswith("# exported by test admin (role admin") and "from excel-bot request req-42" in first
    assert [r["opportunity_id"] for r in csv.DictReader(io.StringIO("\n".join(rest)))] == [known.opps["O2"],
                                                                                          known.opps["O3"]]
    funnel = await client.get("/v1/reports/funnel/export?format=xlsx&from=2025-03-01&group_by=team",
                              headers=MANAGER)
    assert funnel.status_code == 200 and funnel.content[:2] == b"PK"
    assert_problem(await client.get("/v1/reports/funnel/export", headers=REP), 403)
    assert_problem(await client.get("/v1/audit/exports", headers=MANAGER), 403)
    audit = (await client.get("/v1/audit/exports", headers=ADMIN)).json()["exports"]
    assert [(e["report"], e["format"], e["rows"]) for e in audit[:2]] == [
        ("funnel", "xlsx", 2), ("stage-action-opportunities", "csv", 2)]
    assert audit[1]["request_id"] == "req-42" and audit[1]["client"] == "excel-bot" and audit[1]["role"] == "admin"


async def test_a_report_never_answered_within_budget_is_503_with_retry_after(
    edge: tuple[httpx.AsyncClient, Story], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, _ = edge

    async def slow(conn: Any, question: Any) -> dict[str, Any]:
        from sqlalchemy import text

        await conn.execute(text("SELECT pg_sleep(30)"))
        return {}

    monkeypatch.setitem(runner.COMPUTE, "data-health", slow)
    monkeypatch.setattr(runner, "_in_background", lambda *args: None)
    got = await client.get("/v1/reports/data-health?date=2024-01-01", headers=ADMIN)
    assert got.status_code == 503 and got.headers["Retry-After"]
