"""OpenTelemetry set-up: one call at start-up; OTLP export when OTEL_EXPORTER_OTLP_ENDPOINT is set."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import Any, cast

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from sqlalchemy import Engine, event

_provider: TracerProvider | None = None
# Distinct statement texts whose span name and attributes are kept (statements are few; parameters vary).
_STATEMENTS_KEPT = 2000

# What a database error says about the data it failed on: PostgreSQL's DETAIL ("Key (phone)=(+86...) already
# exists", "Failing row contains (...)") and CONTEXT ("JSON data, line 1: {...}", "parameter $1 = '...'") blocks,
# which may run over several lines, SQLAlchemy's bound parameters, and the quoted value of "invalid input syntax".
_DATA_BLOCK = ("DETAIL:", "CONTEXT:", "[parameters:")
# A line that ends such a block (a blank line does too): the next part of the error or of its traceback.
_BLOCK_END = ("HINT:", "STATEMENT:", "[SQL", "(Background on this error", "Traceback", "The above", "During")
_INLINE_DATA = (
    (re.compile(r"(DETAIL|CONTEXT):\s.*"), r"\1: (withheld)"),
    (re.compile(r"\[parameters: .*"), "[parameters withheld]"),
    (re.compile(r"Key \(.*?\)=\(.*?\)"), "Key (withheld)"),
    (re.compile(r"Failing row contains \(.*\)"), "Failing row contains (withheld)"),
    (re.compile(r"(invalid input (?:syntax|value) for [^:\n]*): .*"), r"\1: (withheld)"),
)


def scrub(text: str) -> str:
    """The text of an error without the data a database error quotes (what an operator needs stays)."""
    if not text:
        return text
    kept: list[str] = []
    in_block = False
    for line in text.split("\n"):
        stripped = line.lstrip()
        if stripped.startswith(_DATA_BLOCK):
            in_block = True
        elif in_block and stripped and not stripped.startswith(_BLOCK_END):
            continue
        else:
            in_block = False
        if not in_block:
            kept.append(line)
    text = "\n".join(kept)
    for pattern, replacement in _INLINE_DATA:
        text = pattern.sub(replacement, text)
    return text


def db_error_description(error: BaseException) -> str:
    """A database error as a span may show it: its class, SQLSTATE and constraint, never the values."""
    orig = getattr(error, "orig", None) or error
    diag = getattr(orig, "diag", None)
    parts = [f"SQLSTATE {code}" for code in [getattr(orig, "sqlstate", None)] if code]
    constraint = getattr(diag, "constraint_name", None)
    if constraint:
        parts.append(f"constraint {constraint}")
    return type(orig).__name__ + (f" ({', '.join(parts)})" if parts else "")


def _scrubbed(span: ReadableSpan) -> ReadableSpan:
    """The span with its status description and exception events scrubbed (the same span when clean)."""
    status = span.status
    description = scrub(status.description or "")
    events = [
        Event(e.name, {k: scrub(v) if isinstance(v, str) else v for k, v in (e.attributes or {}).items()}, e.timestamp)
        if e.name == "exception"
        else e
        for e in span.events
    ]
    if description == (status.description or "") and all(a is b for a, b in zip(events, span.events, strict=True)):
        return span
    return ReadableSpan(
        name=span.name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=span.attributes,
        events=events,
        links=span.links,
        kind=span.kind,
        status=Status(status.status_code, description or None),
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


class ScrubbingSpanExporter(SpanExporter):
    """Exports through another exporter after scrubbing every span's error text (whoever recorded it)."""

    def __init__(self, inner: SpanExporter) -> None:
        self.inner = inner

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self.inner.export([_scrubbed(span) for span in spans])

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)


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

        # Spans leave the process only scrubbed: instrumentations record exceptions with their full text.
        provider.add_span_processor(BatchSpanProcessor(ScrubbingSpanExporter(OTLPSpanExporter())))
    trace.set_tracer_provider(provider)
    _provider = provider
    return provider


def shutdown_telemetry() -> None:
    """Flush and stop the exporter (spans of the last requests are not lost on a clean stop)."""
    if _provider is not None:
        _provider.shutdown()


def instrument_sqlalchemy(engine: object, tracer_provider: trace.TracerProvider | None = None) -> None:
    """Trace every statement of an (async) SQLAlchemy engine: one CLIENT span each, in the caller's trace.

    The same spans as the OpenTelemetry SQLAlchemy instrumentation (name "<operation> <database>",
    db.system, db.name, db.operation, db.statement, net.peer.*), but what a span says is worked out once per
    statement text instead of on every execution: the library's per-statement work was a fifth of the lead
    service's CPU per capture.
    """
    sync_engine = cast(Engine, getattr(engine, "sync_engine", engine))
    url = sync_engine.url
    common = {
        "db.system": "postgresql",
        "db.name": url.database or "",
        "net.peer.name": url.host or "",
        "net.peer.port": url.port or 5432,
    }
    tracer = (tracer_provider or trace.get_tracer_provider()).get_tracer("crm.sql")
    described: dict[str, tuple[str, dict[str, Any]]] = {}

    def describe(statement: str) -> tuple[str, dict[str, Any]]:
        found = described.get(statement)
        if found is None:
            words = statement.split(None, 1)
            operation = words[0] if words else "SQL"
            if len(described) >= _STATEMENTS_KEPT:
                described.clear()
            found = described[statement] = (
                f"{operation} {common['db.name']}".strip(),
                {**common, "db.operation": operation, "db.statement": statement},
            )
        return found

    def before(conn: Any, cursor: Any, statement: str, params: Any, context: Any, executemany: bool) -> None:
        if context is None or not is_instrumentation_enabled():
            return
        name, attributes = describe(statement)
        context._crm_span = tracer.start_span(name, kind=SpanKind.CLIENT, attributes=attributes)

    def after(conn: Any, cursor: Any, statement: str, params: Any, context: Any, executemany: bool) -> None:
        span = getattr(context, "_crm_span", None)
        if span is not None:
            span.end()

    def failed(exception_context: Any) -> None:
        span = getattr(exception_context.execution_context, "_crm_span", None)
        if span is not None:
            span.set_status(Status(StatusCode.ERROR, db_error_description(exception_context.original_exception)))
            span.end()

    event.listen(sync_engine, "before_cursor_execute", before)
    event.listen(sync_engine, "after_cursor_execute", after)
    event.listen(sync_engine, "handle_error", failed)


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
