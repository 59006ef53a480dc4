"""An in-memory OTLP/gRPC receiver: services export their spans to it, tests and the CLI read them back."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any

import grpc
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1 import trace_pb2

_KIND_NAMES = {
    trace_pb2.Span.SPAN_KIND_UNSPECIFIED: "UNSPECIFIED",
    trace_pb2.Span.SPAN_KIND_INTERNAL: "INTERNAL",
    trace_pb2.Span.SPAN_KIND_SERVER: "SERVER",
    trace_pb2.Span.SPAN_KIND_CLIENT: "CLIENT",
    trace_pb2.Span.SPAN_KIND_PRODUCER: "PRODUCER",
    trace_pb2.Span.SPAN_KIND_CONSUMER: "CONSUMER",
}
_STATUS_NAMES = {
    trace_pb2.Status.STATUS_CODE_UNSET: "UNSET",
    trace_pb2.Status.STATUS_CODE_OK: "OK",
    trace_pb2.Status.STATUS_CODE_ERROR: "ERROR",
}


@dataclass(frozen=True)
class SpanRecord:
    """One received span, flattened: ids in lowercase hex ('' for no parent), kind as 'SERVER', 'CLIENT', ..."""

    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    kind: str
    service: str
    attributes: dict[str, Any] = field(default_factory=dict)
    resource: dict[str, Any] = field(default_factory=dict)
    scope: str = ""
    status: str = "UNSET"
    start_ns: int = 0
    end_ns: int = 0
    links: tuple[tuple[str, str], ...] = ()

    @property
    def service_name(self) -> str:
        """The resource's service.name (same as service)."""
        return self.service


def _value(any_value: AnyValue) -> Any:
    which = any_value.WhichOneof("value")
    if which is None:
        return None
    raw = getattr(any_value, which)
    if which == "array_value":
        return [_value(v) for v in raw.values]
    if which == "kvlist_value":
        return _attributes(raw.values)
    return raw


def _attributes(pairs: Any) -> dict[str, Any]:
    return {kv.key: _value(kv.value) for kv in pairs if isinstance(kv, KeyValue)}


class _TraceService(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, receiver: OtlpReceiver) -> None:
        self._receiver = receiver

    def Export(self, request: Any, context: Any) -> Any:
        self._receiver._add(request)
        return trace_service_pb2.ExportTraceServiceResponse()


class _MetricsService(metrics_service_pb2_grpc.MetricsServiceServicer):
    """Accepts metrics so that an SDK configured to export them does not log errors; they are dropped."""

    def Export(self, request: Any, context: Any) -> Any:
        return metrics_service_pb2.ExportMetricsServiceResponse()


class _LogsService(logs_service_pb2_grpc.LogsServiceServicer):
    """Accepts logs for the same reason; they are dropped (the services' logs are in their log files)."""

    def Export(self, request: Any, context: Any) -> Any:
        return logs_service_pb2.ExportLogsServiceResponse()


class OtlpReceiver:
    """OTLP/gRPC trace receiver on 127.0.0.1, served from background threads; spans kept in memory."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._host = host
        self._requested_port = port
        self.port = 0
        self._spans: list[SpanRecord] = []
        self._changed = threading.Condition()
        self._server: grpc.Server | None = None

    @property
    def endpoint(self) -> str:
        """What to put in OTEL_EXPORTER_OTLP_ENDPOINT (the http scheme tells the exporter: no TLS)."""
        return f"http://{self._host}:{self.port}"

    def start(self) -> OtlpReceiver:
        """Start serving; returns self."""
        if self._server is not None:
            return self
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="otlp"))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(_TraceService(self), server)
        metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(_MetricsService(), server)
        logs_service_pb2_grpc.add_LogsServiceServicer_to_server(_LogsService(), server)
        self.port = server.add_insecure_port(f"{self._host}:{self._requested_port}")
        server.start()
        self._server = server
        return self

    def stop(self, grace: float = 1.0) -> None:
        """Stop serving (spans already received stay readable)."""
        if self._server is not None:
            self._server.stop(grace).wait()
            self._server = None

    def __enter__(self) -> OtlpReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def spans(self) -> list[SpanRecord]:
        """A snapshot of every span received so far, in arrival order."""
        with self._changed:
            return list(self._spans)

    def clear(self) -> None:
        """Forget the spans received so far."""
        with self._changed:
            self._spans.clear()

    def wait_for(self, predicate: Callable[[list[SpanRecord]], Any], timeout: float = 10.0) -> list[SpanRecord]:
        """Wait until predicate(all spans so far) is truthy; returns the spans, TimeoutError otherwise."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                snapshot = list(self._spans)
                if predicate(snapshot):
                    return snapshot
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    names = sorted({f"{s.service}:{s.name}" for s in snapshot})
                    raise TimeoutError(
                        f"spans did not satisfy the predicate within {timeout} s; "
                        f"{len(snapshot)} received: {', '.join(names[:50])}"
                    )
                self._changed.wait(remaining)

    def wait_for_span(self, match: Callable[[SpanRecord], Any], timeout: float = 10.0) -> SpanRecord:
        """Wait for the first span for which match(span) is truthy and return it."""
        spans = self.wait_for(lambda all_spans: any(match(s) for s in all_spans), timeout)
        return next(s for s in spans if match(s))

    def trace(self, trace_id: str) -> list[SpanRecord]:
        """Every span received so far of one trace."""
        return [s for s in self.spans() if s.trace_id == trace_id]

    def _add(self, request: Any) -> None:
        records = []
        for resource_spans in request.resource_spans:
            resource = _attributes(resource_spans.resource.attributes)
            service = str(resource.get("service.name", ""))
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    records.append(
                        SpanRecord(
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_span_id=span.parent_span_id.hex(),
                            name=span.name,
                            kind=_KIND_NAMES.get(span.kind, str(span.kind)),
                            service=service,
                            attributes=_attributes(span.attributes),
                            resource=resource,
                            scope=scope_spans.scope.name,
                            status=_STATUS_NAMES.get(span.status.code, str(span.status.code)),
                            start_ns=span.start_time_unix_nano,
                            end_ns=span.end_time_unix_nano,
                            links=tuple((link.trace_id.hex(), link.span_id.hex()) for link in span.links),
                        )
                    )
        with self._changed:
            self._spans.extend(records)
            self._changed.notify_all()
