"""One trace per lead: a claim or contact joins the trace the lead was captured in; other routes are left alone."""

from __future__ import annotations

import secrets
import uuid

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from gateway.core.config import Role
from gateway.core.lead_trace import _with_traceparent
from gateway.tests.support import Doubles, auth


def traceparent() -> tuple[str, str]:
    trace_id = secrets.token_hex(16)
    return trace_id, f"00-{trace_id}-{secrets.token_hex(8)}-01"


def trace_of(metadata: dict[str, str]) -> str | None:
    value = metadata.get("traceparent")
    return value.split("-")[1] if value else None


async def captured(client: httpx.AsyncClient) -> dict[str, str]:
    capture_trace, header = traceparent()
    response = await client.post(
        "/v1/leads", json={"phone": "+8613800138000"}, headers={**auth(Role.SYSTEM), "traceparent": header}
    )
    lead: dict[str, str] = response.json()
    # POST /v1/leads honours the caller's trace as usual: the lead is captured in it.
    assert lead["trace_id"] == capture_trace
    return lead


@pytest.mark.parametrize(
    ("path", "body", "method"),
    [("claim", None, "ClaimLead"), ("contacts", {"channel": "phone"}, "RecordContact")],
)
async def test_journey_steps_join_the_leads_trace(
    client: httpx.AsyncClient, doubles: Doubles, spans: InMemorySpanExporter, path: str, body: object, method: str
) -> None:
    lead = await captured(client)
    other_trace, header = traceparent()
    spans.clear()
    response = await client.post(
        f"/v1/leads/{lead['id']}/{path}",
        json=body,
        headers={**auth(Role.SALES_REP), "traceparent": header, "tracestate": "vendor=caller"},
    )
    assert response.status_code in (200, 201), response.text
    sent = doubles.lead.last(method)
    assert trace_of(sent) == lead["trace_id"] != other_trace
    assert "vendor=caller" not in sent.get("tracestate", "")
    # The lookup itself is invisible: no trace context, no span.
    assert "traceparent" not in doubles.lead.last("GetLeadTraceContext")
    server_spans = [s for s in spans.get_finished_spans() if s.kind is SpanKind.SERVER and s.name.startswith("POST")]
    assert server_spans and {format(s.context.trace_id, "032x") for s in server_spans} == {lead["trace_id"]}
    assert {s.attributes.get("http.route") for s in server_spans} == {f"/v1/leads/{{lead_id}}/{path}"}
    client_spans = [s.name for s in spans.get_finished_spans() if s.kind is SpanKind.CLIENT]
    assert any(method in name for name in client_spans)
    assert not [name for name in client_spans if "GetLeadTraceContext" in name]


async def test_a_leads_traceparent_is_looked_up_once(client: httpx.AsyncClient, doubles: Doubles) -> None:
    lead = await captured(client)
    before = doubles.lead.count("GetLeadTraceContext")
    for _ in range(3):
        await client.post(f"/v1/leads/{lead['id']}/contacts", json={"channel": "sms"}, headers=auth(Role.SALES_REP))
    assert doubles.lead.count("GetLeadTraceContext") == before + 1
    assert trace_of(doubles.lead.last("RecordContact")) == lead["trace_id"]


async def test_other_routes_keep_the_callers_trace(client: httpx.AsyncClient, doubles: Doubles) -> None:
    lead = await captured(client)
    caller_trace, header = traceparent()
    before = doubles.lead.count("GetLeadTraceContext")
    response = await client.get(f"/v1/leads/{lead['id']}", headers={**auth(Role.VIEWER), "traceparent": header})
    assert response.status_code == 200
    assert trace_of(doubles.lead.last("GetLead")) == caller_trace
    assert doubles.lead.count("GetLeadTraceContext") == before


async def test_unknown_lead_is_left_untouched(client: httpx.AsyncClient, doubles: Doubles) -> None:
    caller_trace, header = traceparent()
    response = await client.post(
        f"/v1/leads/{uuid.uuid4()}/claim", headers={**auth(Role.SALES_REP), "traceparent": header}
    )
    assert response.status_code == 404
    assert trace_of(doubles.lead.last("ClaimLead")) == caller_trace


async def test_unauthenticated_requests_cost_no_lookup(client: httpx.AsyncClient, doubles: Doubles) -> None:
    lead = await captured(client)
    before = doubles.lead.count("GetLeadTraceContext")
    response = await client.post(f"/v1/leads/{lead['id']}/claim", headers={"Authorization": "Bearer wrong"})
    assert response.status_code == 401
    assert doubles.lead.count("GetLeadTraceContext") == before


def test_header_replacement_drops_tracestate() -> None:
    headers = [(b"host", b"x"), (b"Traceparent", b"00-a-b-01"), (b"tracestate", b"k=v")]
    assert _with_traceparent(headers, "00-c-d-01") == [(b"host", b"x"), (b"traceparent", b"00-c-d-01")]
