"""Canary values of a lead's personal data never reach a log file, an exported span or a metrics endpoint.

The whole stack runs with its spans exported to a real OTLP/gRPC receiver that keeps every export request as
received (status messages and exception events included). Leads carrying unique canaries go through the happy
path and the error paths (a repeat, a quarantine, a racing duplicate, bad requests, a webhook), then every log
file, every exported byte and every /metrics page is searched.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from tools.devstack import Stack

pytestmark = pytest.mark.journey


class RawTraceReceiver(trace_service_pb2_grpc.TraceServiceServicer):
    """OTLP/gRPC TraceService on 127.0.0.1 that keeps each export request exactly as it arrived."""

    def __init__(self) -> None:
        self.requests: list[trace_service_pb2.ExportTraceServiceRequest] = []
        self._lock = threading.Lock()
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="canary-otlp"))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(self, self._server)
        self.port = self._server.add_insecure_port("127.0.0.1:0")

    def Export(self, request: Any, context: Any) -> Any:
        with self._lock:
            self.requests.append(request)
        return trace_service_pb2.ExportTraceServiceResponse()

    def __enter__(self) -> RawTraceReceiver:
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop(1).wait()

    def raw(self) -> bytes:
        """Every export request serialised again: strings appear in it as the exporter sent them (UTF-8)."""
        with self._lock:
            return b"".join(request.SerializeToString() for request in self.requests)

    def spans_by_service(self) -> dict[str, list[Any]]:
        """The received spans, by their resource's service.name."""
        found: dict[str, list[Any]] = {}
        with self._lock:
            for request in self.requests:
                for resource_spans in request.resource_spans:
                    attributes = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
                    service = attributes.get("service.name", "")
                    for scope_spans in resource_spans.scope_spans:
                        found.setdefault(service, []).extend(scope_spans.spans)
        return found


@pytest.fixture(scope="module")
def receiver() -> Iterator[RawTraceReceiver]:
    with RawTraceReceiver() as running:
        yield running


@pytest.fixture(scope="module")
def canary_stack(tmp_path_factory: pytest.TempPathFactory, receiver: RawTraceReceiver) -> Iterator[Stack]:
    """The whole stack, its spans going to the raw receiver, its services logging at DEBUG (the most they say)."""
    running = Stack(
        tmp_path_factory.mktemp("canary"),
        otlp_endpoint=f"http://127.0.0.1:{receiver.port}",
        env_overrides={"OTEL_BSP_SCHEDULE_DELAY": "200"},
        log_level="DEBUG",
    )
    running.start()
    try:
        yield running
    finally:
        running.stop()


class Canaries:
    """One person's data, each value unique to this run and easy to recognise in any text."""

    def __init__(self) -> None:
        token = uuid.uuid4().hex
        self.name_token = "Kanarie" + token[:8]
        self.company_token = "Vogelhuis" + token[8:16]
        self.email_token = "kanarie." + token[16:24]
        digits = f"{uuid.uuid4().int % 10**8:08d}"
        self.subscriber = digits
        self.phone = "+86139" + digits
        self.name = f"{self.name_token} Wang"
        self.company = f"{self.company_token} 科技有限公司"
        self.email = f"{self.email_token}@example.org"

    def needles(self) -> dict[str, str]:
        """What must not appear anywhere (the national number covers +86139... and 139...)."""
        return {
            "name": self.name_token,
            "company": self.company_token,
            "email": self.email_token,
            "phone": "139" + self.subscriber,
            "phone (subscriber part)": self.subscriber,
        }

    def lead(self, **fields: Any) -> dict[str, Any]:
        body = {
            "name": self.name,
            "phone": self.phone,
            "email": self.email,
            "company": self.company,
            "province": "浙江",
            "notes": f"call {self.name} at {self.phone}",
            "source": {"channel": "web_form", "utm_source": "baidu"},
        }
        return {**body, **fields}


def wait_until(check: Callable[[], Any], timeout: float = 30.0) -> Any:
    """Poll until check() is truthy; fail with the last value."""
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"condition not met within {timeout}s; last value: {value!r}")


def found_in(text: str, needles: dict[str, str]) -> list[str]:
    """Each needle found, as 'field: ...the text around it...' (case-insensitive)."""
    lowered = text.lower()
    hits = []
    for field, needle in needles.items():
        at = lowered.find(needle.lower())
        if at >= 0:
            hits.append(f"{field}: ...{text[max(at - 120, 0) : at + 60]!r}...")
    return hits


def test_no_canary_of_a_lead_appears_in_logs_spans_or_metrics(canary_stack: Stack, receiver: RawTraceReceiver) -> None:
    stack = canary_stack
    admin = {"Authorization": f"Bearer {stack.api_key}"}
    system = {"Authorization": f"Bearer {stack.role_keys['system']}"}
    main, quarantined, racing, hooked = Canaries(), Canaries(), Canaries(), Canaries()
    source = f"partner-{uuid.uuid4().hex[:12]}"
    everyone = [main, quarantined, racing, hooked]

    with httpx.Client(base_url=stack.gateway_url, timeout=20) as api:
        created = api.post("/v1/leads", json=main.lead(), headers=admin)
        assert created.status_code == 201, created.text
        lead = created.json()
        # A repeat of the same person and channel: a touch on the lead, not a second lead.
        repeat = api.post("/v1/leads", json=main.lead(), headers=admin)
        assert repeat.status_code in (200, 201), repeat.text
        # A disposable e-mail domain: the submission is quarantined, not captured.
        held = api.post(
            "/v1/leads", json=quarantined.lead(email=f"{quarantined.email_token}@mailinator.com"), headers=admin
        )
        assert held.status_code in (200, 201, 202), held.text
        # The same new person submitted at once by several callers, with and without one Idempotency-Key:
        # the captures race on the unique keys of the lead and customer tables.
        key = f"canary-{uuid.uuid4().hex}"
        with futures.ThreadPoolExecutor(max_workers=6) as pool:
            answers = list(
                pool.map(
                    lambda i: api.post(
                        "/v1/leads",
                        json=racing.lead(),
                        headers={**admin, **({"Idempotency-Key": key} if i % 2 else {})},
                    ),
                    range(6),
                )
            )
        assert all(a.status_code < 500 for a in answers), [a.text for a in answers]
        # Bad requests quoting the canaries: malformed e-mail, phone, a NUL in a text field, a non-object body.
        for bad in (
            main.lead(email=f"{main.email_token}@@nowhere"),
            main.lead(phone=f"139{main.subscriber}{main.subscriber}", email=None),
            main.lead(notes=f"{main.name}\x00{main.phone}"),
            main.lead(source={"channel": f"{main.name_token}!"}),
        ):
            refused = api.post("/v1/leads", json=bad, headers=admin)
            assert 400 <= refused.status_code, refused.text
        assert api.post("/v1/contacts/match", json={"phone": main.phone}, headers=admin).status_code < 600
        # A partner's webhook carrying another person, from a source no configuration names.
        hook = api.post(
            f"/v1/webhooks/{source}",
            json={"name": hooked.name, "mobile": hooked.phone, "email": hooked.email, "company": hooked.company},
            headers={**system, "Idempotency-Key": f"canary-{uuid.uuid4().hex}"},
        )
        assert hook.status_code in (200, 201), hook.text

        # The journey's consumers (customer master, notification with its rendered message, reporting) ran.
        def notified() -> bool:
            timeline = api.get(f"/v1/leads/{lead['id']}", headers=admin).json().get("timeline", [])
            return "notified" in [entry["step"] for entry in timeline]

        wait_until(notified)
        # The needles are the forms the system stores and answers with: a search for them could find them.
        read = api.get(f"/v1/leads/{lead['id']}", headers=admin).text
        assert len(found_in(read, main.needles())) == len(main.needles()), read

    services = {"gateway", "lead", "customer-master", "notification", "integration-gateway", "reporting", "pipeline"}
    metrics = {name: httpx.get(stack.metrics_url(name), timeout=10).text for name in sorted(services)}
    assert 'crm_leads_captured_total{channel="web_form"}' in metrics["lead"]
    assert 'crm_webhooks_received_total{outcome="captured",source="other"}' in metrics["integration-gateway"]
    assert source not in "".join(metrics.values())  # a label from a bounded set, not the partner's chosen name

    # Spans of the lead's own trace arrived from the services its capture touched: the receiver is the real path.
    def traced() -> set[str]:
        by_service = receiver.spans_by_service()
        return {s for s, spans in by_service.items() if any(sp.trace_id.hex() == lead["trace_id"] for sp in spans)}

    wait_until(lambda: {"gateway", "lead", "customer-master", "notification"} <= traced())
    stack.stop()  # a clean stop flushes the last spans and writes the shutdown logs

    logs = sorted(Path(stack.logs_dir).glob("*.log"))
    assert {f"{name}.log" for name in services} <= {path.name for path in logs}
    # The infrastructure's own logs too: PostgreSQL quotes failing values in DETAIL and CONTEXT unless told not to.
    # (Only the servers this stack started: CRM_TEST_DATABASE_URL / CRM_TEST_NATS_URL name outside ones.)
    logs += [server.log_path for server in (stack.postgres, stack.nats) if server is not None]
    assert all(path.is_file() for path in logs), logs
    exported = receiver.raw()
    assert len(exported) > 10_000
    leaks: list[str] = []
    for person in everyone:
        needles = person.needles()
        for path in logs:
            leaks += [f"{path.name}: {hit}" for hit in found_in(path.read_text(errors="replace"), needles)]
        leaks += [f"exported spans: {hit}" for hit in found_in(exported.decode("utf-8", "replace"), needles)]
        for name, page in metrics.items():
            leaks += [f"{name} metrics: {hit}" for hit in found_in(page, needles)]
    assert leaks == [], "\n".join(leaks)
