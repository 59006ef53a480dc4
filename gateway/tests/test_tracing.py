"""The edge's spans: one server span per request, named after its route, with its gRPC calls as children."""

from __future__ import annotations

import secrets

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from gateway.core.config import Role
from gateway.tests.support import auth

CAPTURE_RPC = "/crm.lead.v1.LeadService/CaptureLead"


def server_spans(spans: InMemorySpanExporter) -> list[ReadableSpan]:
    """The edge's HTTP server spans (the doubles' gRPC server spans are left out)."""
    return [
        s for s in spans.get_finished_spans()
        if s.kind is SpanKind.SERVER and s.attributes is not None and "rpc.system" not in s.attributes
    ]


async def test_a_capture_is_one_server_span_with_its_call_to_the_lead_service_as_child(
    client: httpx.AsyncClient, spans: InMemorySpanExporter
) -> None:
    trace_id, parent_id = secrets.token_hex(16), secrets.token_hex(8)
    spans.clear()
    response = await client.post(
        "/v1/leads",
        json={"phone": "+8613800138000"},
        headers={**auth(Role.SYSTEM), "traceparent": f"00-{trace_id}-{parent_id}-01"},
    )
    assert response.status_code == 201, response.text
    in_trace = [s for s in spans.get_finished_spans() if format(s.context.trace_id, "032x") == trace_id]
    [server] = [s for s in in_trace if s.kind is SpanKind.SERVER and s.name == "POST /v1/leads"]
    [call] = [s for s in in_trace if s.kind is SpanKind.CLIENT]
    assert server.parent is not None and format(server.parent.span_id, "016x") == parent_id
    assert call.name == CAPTURE_RPC and call.parent is not None and call.parent.span_id == server.context.span_id
    assert server.attributes is not None
    assert server.attributes["http.route"] == "/v1/leads" and server.attributes["http.response.status_code"] == 201
    # No span per body chunk or response message: what a capture costs in spans is these two (and the peer's).
    assert not [s.name for s in in_trace if s.kind is SpanKind.INTERNAL]
    assert sorted(s.name for s in in_trace) == sorted(["POST /v1/leads", CAPTURE_RPC, CAPTURE_RPC])


@pytest.mark.parametrize(
    ("method", "path", "role", "name", "status"),
    [
        ("POST", "/v1/leads", None, "POST /v1/leads", 401),
        ("DELETE", "/v1/teams", Role.ADMIN, "DELETE /v1/teams", 405),
        ("GET", "/nowhere", None, "GET", 404),
    ],
    ids=["no-key", "wrong-method", "unknown-path"],
)
async def test_requests_answered_before_routing_are_named_after_their_route(
    client: httpx.AsyncClient,
    spans: InMemorySpanExporter,
    method: str,
    path: str,
    role: Role | None,
    name: str,
    status: int,
) -> None:
    spans.clear()
    response = await client.request(method, path, json={}, headers=auth(role) if role else {})
    assert response.status_code == status
    [server] = server_spans(spans)
    assert server.name == name and server.attributes is not None
    assert server.attributes["http.response.status_code"] == status
    assert server.attributes.get("http.route") == (name.split(" ", 1)[1] if " " in name else None)


async def test_probes_are_not_traced(client: httpx.AsyncClient, spans: InMemorySpanExporter) -> None:
    spans.clear()
    assert (await client.get("/healthz")).status_code == 200
    assert (await client.get("/readyz")).status_code == 200
    assert server_spans(spans) == []
    assert not [s for s in spans.get_finished_spans() if s.kind is SpanKind.CLIENT]
