"""The lead response report on known data, its filters, its gRPC face, and its speed on 100k leads."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from sqlalchemy import text

from crm.reporting.v1 import reporting_pb2, reporting_pb2_grpc
from crm_common.errors import field_violations_of
from crm_common.service import Runtime
from reporting import repository
from reporting.convert import to_timestamp
from reporting.domain import LeadResponseReport, ReportFilter

BASE = datetime(2027, 5, 1, 9, 0, tzinfo=UTC)


async def _lead(
    runtime: Runtime,
    *,
    channel: str,
    captured_at: datetime,
    assigned_after: float | None,
    contacted_after: float | None,
) -> None:
    lead_id = str(uuid.uuid4())
    async with runtime.db.transaction() as conn:
        await repository.record_captured(conn, lead_id=lead_id, channel=channel, captured_at=captured_at)
        if assigned_after is not None:
            await repository.record_assigned(
                conn,
                lead_id=lead_id,
                channel=channel,
                captured_at=captured_at,
                assigned_at=captured_at + timedelta(seconds=assigned_after),
            )
        if contacted_after is not None:
            await repository.record_first_contact(
                conn,
                lead_id=lead_id,
                captured_at=captured_at,
                first_contact_at=captured_at + timedelta(seconds=contacted_after),
            )


async def _known_data(runtime: Runtime) -> str:
    """10 leads a minute apart assigned after 1..10 s, 4 of them contacted after 60..240 s, 1 never assigned."""
    channel = f"web-{uuid.uuid4().hex[:6]}"
    for i in range(10):
        await _lead(
            runtime,
            channel=channel,
            captured_at=BASE + timedelta(minutes=i),
            assigned_after=i + 1,
            contacted_after=60.0 * (i + 1) if i < 4 else None,
        )
    await _lead(
        runtime, channel=channel, captured_at=BASE + timedelta(minutes=10), assigned_after=None, contacted_after=None
    )
    # Noise in another channel, in the same window, that a channel filter must leave out.
    await _lead(runtime, channel=f"{channel}-other", captured_at=BASE, assigned_after=1000, contacted_after=5000)
    return channel


async def _report(runtime: Runtime, report_filter: ReportFilter) -> LeadResponseReport:
    async with runtime.db.connect() as conn:
        return await repository.lead_response_report(conn, report_filter=report_filter)


async def test_report_on_known_data(runtime: Runtime) -> None:
    channel = await _known_data(runtime)
    report = await _report(runtime, ReportFilter(channel=channel))
    assert report.leads_captured == 11
    assert report.time_to_assignment.count == 10
    assert report.time_to_assignment.p50_seconds == pytest.approx(5.5)
    assert report.time_to_assignment.p90_seconds == pytest.approx(9.1)
    assert report.time_to_first_contact.count == 4
    assert report.time_to_first_contact.p50_seconds == pytest.approx(150.0)
    assert report.time_to_first_contact.p90_seconds == pytest.approx(222.0)
    assert abs((report.computed_at - datetime.now(UTC)).total_seconds()) < 60


async def test_time_window_is_half_open(runtime: Runtime) -> None:
    channel = await _known_data(runtime)
    report = await _report(
        runtime, ReportFilter(captured_from=BASE, captured_to=BASE + timedelta(minutes=5), channel=channel)
    )
    # Leads captured at minutes 0..4, assigned after 1..5 s.
    assert (report.leads_captured, report.time_to_assignment.count) == (5, 5)
    assert report.time_to_assignment.p50_seconds == pytest.approx(3.0)
    assert report.time_to_assignment.p90_seconds == pytest.approx(4.6)
    assert report.time_to_first_contact.count == 4


async def test_window_without_channel_covers_every_channel(runtime: Runtime) -> None:
    start = datetime(2028, 1, 1, tzinfo=UTC)
    for channel, delay in [("web", 10.0), ("phone", 20.0), ("wechat", 30.0)]:
        await _lead(runtime, channel=channel, captured_at=start, assigned_after=delay, contacted_after=None)
    await _lead(runtime, channel="web", captured_at=start + timedelta(days=1), assigned_after=99, contacted_after=None)
    report = await _report(runtime, ReportFilter(captured_from=start, captured_to=start + timedelta(days=1)))
    assert (report.leads_captured, report.time_to_assignment.count) == (3, 3)
    assert report.time_to_assignment.p50_seconds == pytest.approx(20.0)
    only_phone = await _report(
        runtime, ReportFilter(captured_from=start, captured_to=start + timedelta(days=1), channel="phone")
    )
    assert (only_phone.leads_captured, only_phone.time_to_assignment.p90_seconds) == (1, pytest.approx(20.0))


async def test_an_empty_report_is_zeros(runtime: Runtime) -> None:
    report = await _report(runtime, ReportFilter(channel="no-such-channel"))
    assert report.leads_captured == 0
    assert (report.time_to_assignment.count, report.time_to_assignment.p50_seconds) == (0, 0.0)
    assert (report.time_to_first_contact.count, report.time_to_first_contact.p90_seconds) == (0, 0.0)


async def test_report_through_grpc(runtime: Runtime, stub: reporting_pb2_grpc.ReportingServiceStub) -> None:
    channel = await _known_data(runtime)
    response = await stub.GetLeadResponseReport(
        reporting_pb2.GetLeadResponseReportRequest(
            captured_from=to_timestamp(BASE), captured_to=to_timestamp(BASE + timedelta(hours=1)), channel=channel
        ),
        timeout=5,
    )
    assert response.leads_captured == 11
    assert (response.time_to_assignment.count, response.time_to_assignment.p90_seconds) == (10, pytest.approx(9.1))
    assert response.time_to_first_contact.p50_seconds == pytest.approx(150.0)
    assert response.computed_at.seconds > 0


async def test_a_reversed_window_is_invalid_argument(stub: reporting_pb2_grpc.ReportingServiceStub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.GetLeadResponseReport(
            reporting_pb2.GetLeadResponseReportRequest(
                captured_from=to_timestamp(BASE), captured_to=to_timestamp(BASE - timedelta(seconds=1))
            ),
            timeout=5,
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in field_violations_of(caught.value)] == ["captured_to"]


async def test_report_over_100k_leads_answers_in_milliseconds(runtime: Runtime) -> None:
    start = datetime(2029, 1, 1, tzinfo=UTC)
    async with runtime.db.transaction() as conn:
        await conn.execute(
            text(
                """
                INSERT INTO reporting.lead_response (lead_id, channel, captured_at, assigned_at, first_contact_at)
                SELECT 'bulk-' || g, 'bulk', :start + g * interval '1 second',
                       :start + g * interval '1 second' + (g % 100 + 1) * interval '1 second',
                       CASE WHEN g % 2 = 0 THEN :start + g * interval '1 second' + (g % 1000) * interval '1 second' END
                FROM generate_series(0, 99999) AS g
                """
            ),
            {"start": start},
        )
        await conn.execute(text("ANALYZE reporting.lead_response"))
    window = ReportFilter(captured_from=start, captured_to=start + timedelta(days=2))
    await _report(runtime, window)  # warm the connection and the cache
    began = time.perf_counter()
    report = await _report(runtime, window)
    elapsed = time.perf_counter() - began
    assert report.leads_captured == 100_000
    assert report.time_to_assignment.count == 100_000
    assert report.time_to_assignment.p50_seconds == pytest.approx(50.5)
    assert report.time_to_first_contact.count == 50_000
    # Milliseconds in practice (about 60 ms here); the bound leaves room for a loaded CI machine.
    assert elapsed < 1.5, f"report took {elapsed:.3f}s"
