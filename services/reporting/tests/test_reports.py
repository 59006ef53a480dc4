"""Every report against figures computed by hand from the known story (known_events.py), over gRPC."""

from __future__ import annotations

import csv
import io
import uuid
import zipfile
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import grpc
import pytest
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message

from crm.reporting.v1 import reporting_pb2, reporting_pb2_grpc
from crm_common.bus.consumer import EventMeta
from crm_common.grpc_client import channel_as
from crm_common.identity import Principal, Role, user_principal
from crm_common.service import Runtime
from reporting.projections.consumers import CONSUMERS
from reporting.tests.known_events import Story, story

HANDLERS = {spec.subject: spec.handler for spec in CONSUMERS}


async def apply(runtime: Runtime, events: Iterable[tuple[str, Message]]) -> None:
    """Each event through its live consumer's handler, as the bus would, one transaction per event."""
    for subject, message in events:
        meta = EventMeta(event_id=str(uuid.uuid4()), subject=subject, published_at=datetime.now(UTC), delivery=1)
        async with runtime.db.transaction() as conn:
            await HANDLERS[subject](conn, message, meta)


async def report(address: str, principal: Principal, name: str, **parameters: str) -> dict[str, Any]:
    async with channel_as(address, principal) as channel:
        reply = await reporting_pb2_grpc.ReportingServiceStub(channel).GetReport(
            reporting_pb2.GetReportRequest(report=name, parameters=parameters), timeout=10
        )
    assert not reply.stale and reply.HasField("as_of")
    return MessageToDict(reply.body)


@pytest.fixture
async def known(runtime: Runtime) -> Story:
    s = story()
    await apply(runtime, s.events)
    return s


def manager(s: Story) -> Principal:
    return user_principal(Role.MANAGER, team_ids=(s.t1, s.t2))


async def test_funnel_by_team(runtime: Runtime, address: str, known: Story) -> None:
    body = await report(
        address, manager(known), "funnel", **{"from": "2025-03-01", "to": "2025-03-31", "group_by": "team"}
    )
    # March: T1 holds L1, L2, L4 (L5, L6 are earlier); O1 from L1 won, O2 from L2 lost; T2 holds L3, no opportunity.
    assert sorted(body["rows"], key=lambda r: r["group"]["team"] != known.t1) == [
        {
            "group": {"team": known.t1},
            "leads": 3,
            "opportunities": 2,
            "stages": {"qualify": 2, "demo": 2, "won": 1, "lost": 1},
            "won": 1,
            "lost": 1,
        },
        {"group": {"team": known.t2}, "leads": 1, "opportunities": 0, "stages": {}, "won": 0, "lost": 0},
    ]


async def test_funnel_of_a_rep_holds_only_their_rows(address: str, known: Story) -> None:
    rep = user_principal(Role.SALES_REP, rep_id=known.r1)
    body = await report(
        address, rep, "funnel", **{"from": "2025-03-01", "to": "2025-03-31", "group_by": "rep,channel,region"}
    )
    # L2 went back to the pool and then to R1: R1's now. L3 is R3's.
    assert body["rows"] == [
        {
            "group": {"rep": known.r1, "channel": "web", "region": None},
            "leads": 3,
            "opportunities": 2,
            "stages": {"qualify": 2, "demo": 2, "won": 1, "lost": 1},
            "won": 1,
            "lost": 1,
        }
    ]


async def test_assignment_health(address: str, known: Story) -> None:
    body = await report(address, manager(known), "assignment-health", date="2025-03-02")
    # L1, L2, L3: first assignments after 60, 120, 300 s; percentile_cont interpolates: p90 = 120 + 0.8 * 180.
    assert body == {
        "captured": 3,
        "assigned": 3,
        "time_to_assignment": {"p50": 120.0, "p90": pytest.approx(264.0), "p99": pytest.approx(296.4)},
        "claim_windows_lapsed": 1,
        "unclaimed_over_2h": 1,
        "pool_returns": 1,
        "reassignments": 0,
        "cross_region": None,
        "double_assignments": 1,
    }


async def test_data_health(address: str, known: Story) -> None:
    body = await report(address, manager(known), "data-health", date="2025-03-02")
    assert body["entry_rate_24h"] == 3
    assert body["completeness"] == {
        "channel": 1.0,
        "province": 1.0,
        "industry": pytest.approx(0.666667),
        "customer_id": pytest.approx(0.333333),
    }
    # 1 March had no leads: a run of one day below 92 %.
    assert body["below_threshold_days"] == {"channel": 0, "province": 0, "industry": 1, "customer_id": 1}
    assert body["untouched_30d"] == 1  # L6, last touched in January (L5 on 28 February is within 30 days)
    assert body["invalid_phone"] is None and body["duplicate_candidates"] is None


async def test_stage_actions_and_drill_down(address: str, known: Story) -> None:
    body = await report(address, manager(known), "stage-actions", pipeline=known.pipeline)
    assert body["cells"] == [
        # O1, O2, O3 were in demo: O1 left without demo_done, O3 is there without it.
        {
            "stage": "demo",
            "action": "demo_done",
            "opportunities": 3,
            "missing": 2,
            "missing_rate": pytest.approx(0.666667),
        },
        # O2 left without it; O3 did it only after leaving.
        {
            "stage": "qualify",
            "action": "needs_analysis",
            "opportunities": 3,
            "missing": 2,
            "missing_rate": pytest.approx(0.666667),
        },
    ]
    drill = await report(
        address,
        manager(known),
        "stage-action-opportunities",
        pipeline=known.pipeline,
        stage="qualify",
        action="needs_analysis",
    )
    assert [o["opportunity_id"] for o in drill["opportunities"]] == [known.opps["O2"], known.opps["O3"]]
    rep3 = await report(
        address, user_principal(Role.SALES_REP, rep_id=known.r3), "stage-actions", pipeline=known.pipeline
    )
    assert [(c["opportunities"], c["missing"]) for c in rep3["cells"]] == [(1, 1), (1, 1)]


async def test_sub_state_dwell(address: str, known: Story) -> None:
    body = await report(address, manager(known), "sub-state-dwell", pipeline=known.pipeline, month="2025-03")
    # 1, 2 and 3 hours: p50 2 h, p90 2 + 0.8 × 1 h.
    assert body == {"month": "2025-03", "cells": [{"stage": "qualify", "sub_state": "calling", "stays": 3,
                                                   "p50_hours": 2.0, "p90_hours": pytest.approx(2.8)}]}
    april = await report(address, manager(known), "sub-state-dwell", pipeline=known.pipeline, month="2025-04")
    assert april["cells"] == []


async def test_kpi_today(runtime: Runtime, address: str) -> None:
    s = story()
    now = datetime.now(UTC)
    from crm.events.v1 import lead_events_pb2 as lead
    from crm.events.v1 import pipeline_events_pb2 as pipe
    from reporting.convert import to_timestamp

    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    await apply(
        runtime,
        [
            (
                "crm.lead.assigned",
                lead.LeadAssigned(
                    lead_id=a,
                    assignee_id=s.r1,
                    team_id=s.t1,
                    captured_at=to_timestamp(now),
                    assigned_at=to_timestamp(now),
                ),
            ),
            (
                "crm.lead.assigned",
                lead.LeadAssigned(
                    lead_id=b,
                    assignee_id=s.r1,
                    team_id=s.t1,
                    captured_at=to_timestamp(now),
                    assigned_at=to_timestamp(now),
                ),
            ),
            (
                "crm.pipeline.opportunity_opened",
                pipe.OpportunityOpened(
                    opportunity_id=str(uuid.uuid4()), lead_id=a, stage="qualify", opened_at=to_timestamp(now)
                ),
            ),
        ],
    )
    body = await report(address, user_principal(Role.SALES_REP, rep_id=s.r1), "kpi")
    assert body == {"new_leads_today": 2, "opportunity_conversion_rate": 0.5, "receivables_attainment": None}


@pytest.mark.parametrize(
    ("name", "parameters", "field"),
    [
        ("nope", {}, "report"),
        ("funnel", {"group_by": "team,colour"}, "group_by"),
        ("funnel", {"from": "2025-03-05", "to": "2025-03-01"}, "to"),
        ("funnel", {"from": "March"}, "from"),
        ("kpi", {"date": "2025-03-01"}, "date"),
    ("sub-state-dwell", {"month": "2025-13"}, "month"),
        ("assignment-health", {"date": "9999-12-31"}, "date"),
    ],
)
async def test_bad_parameters_name_the_field(
    stub: reporting_pb2_grpc.ReportingServiceStub, name: str, parameters: dict[str, str], field: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.GetReport(reporting_pb2.GetReportRequest(report=name, parameters=parameters), timeout=10)
    assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert field in (err.value.details() or "")


async def _export(address: str, principal: Principal, fmt: str, **parameters: str) -> bytes:
    async with channel_as(address, principal) as channel:
        stub = reporting_pb2_grpc.ReportingServiceStub(channel)
        chunks = stub.ExportReport(
            reporting_pb2.ExportReportRequest(
                report="stage-action-opportunities",
                parameters=parameters,
                format=fmt,
                client="pytest",
                request_id="req-1",
                caller_name="ops key",
            ),
            timeout=10,
        )
        return b"".join([chunk.data async for chunk in chunks])


async def test_export_is_watermarked_audited_and_refused_to_reps(
    address: str, known: Story, stub: reporting_pb2_grpc.ReportingServiceStub
) -> None:
    admin = user_principal(Role.ADMIN)
    data = await _export(address, admin, "csv", pipeline=known.pipeline, stage="qualify", action="needs_analysis")
    lines = data.decode().splitlines()
    assert lines[0].startswith("# exported by ops key (role admin") and "from pytest request req-1" in lines[0]
    rows = list(csv.DictReader(io.StringIO("\n".join(lines[1:]))))
    assert [r["opportunity_id"] for r in rows] == [known.opps["O2"], known.opps["O3"]]
    xlsx = await _export(address, admin, "xlsx", pipeline=known.pipeline, stage="demo", action="demo_done")
    with zipfile.ZipFile(io.BytesIO(xlsx)) as book:
        strings = book.read("xl/worksheets/sheet1.xml").decode()
    assert "exported by ops key" in strings and known.opps["O1"] in strings and known.opps["O3"] in strings
    audit = await stub.ListExports(reporting_pb2.ListExportsRequest(limit=10), timeout=10)
    mine = [e for e in audit.exports if e.parameters["pipeline"] == known.pipeline]
    assert [(e.format, e.rows, e.client, e.request_id, e.role) for e in mine] == [
        ("xlsx", 2, "pytest", "req-1", "admin"),
        ("csv", 2, "pytest", "req-1", "admin"),
    ]
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await _export(
            address,
            user_principal(Role.SALES_REP, rep_id=known.r1),
            "csv",
            pipeline=known.pipeline,
            stage="qualify",
            action="needs_analysis",
        )
    assert err.value.code() is grpc.StatusCode.PERMISSION_DENIED
