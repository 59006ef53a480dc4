"""OpenTelemetry set-up: one call at start-up; OTLP export when OTEL_EXPORTER_OTLP_ENDPOINT is set."""

from __future__ import annotations

import os

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span

_provider: TracerProvider | None = None


def setup_telemetry(service_name: str) -> TracerProvider:
    """Install the tracer provider once; the OTEL_* variables are left to the SDK and exporter."""
    global _provider
    if _provider is not None:
        return _provider
    name = os.environ.get("OTEL_SERVICE_NAME") or service_name
    resource = Resource.create({SERVICE_NAME: name})
    provider = TracerProvider(resource=resource)
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    _provider = provider
    return provider


def shutdown_telemetry() -> None:
    """Flush and stop the exporter (spans of the last requests are not lost on a clean stop)."""
    if _provider is not None:
        _provider.shutdown()


def instrument_sqlalchemy(engine: object) -> None:
    """Trace every statement of an (async) SQLAlchemy engine."""
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    sync_engine = getattr(engine, "sync_engine", engine)
    SQLAlchemyInstrumentor().instrument(engine=sync_engine, enable_commenter=False)


def current_traceparent() -> str:
    """The W3C traceparent of the active span ('' when there is none)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent", "")


def context_from_headers(headers: dict[str, str] | None) -> Context:
    """The trace context carried by message or request headers."""
    return propagate.extract(headers or {})


def trace_id_of(span: Span | None = None) -> str:
    """The hex trace id of a span (the active one by default)."""
    ctx = (span or trace.get_current_span()).get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else ""
