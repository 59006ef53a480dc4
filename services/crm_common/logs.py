"""JSON logs on stdout, each record carrying the current trace and span ids, and no personal data."""

from __future__ import annotations

import logging
import sys
from types import TracebackType

from opentelemetry import trace
from pythonjsonlogger.json import JsonFormatter

from crm_common.telemetry import scrub

# `extra` fields that hold a person's data: a record that carries one shows it withheld. Log ids instead.
PERSONAL_FIELDS = frozenset(
    (
        "name lead_name contact_name customer_name full_name person phone mobile telephone phone_number email e_mail"
        " email_address company company_name account_name address wechat wechat_id id_number notes note payload body"
    ).split()
)
WITHHELD = "(withheld)"
_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]


class _TraceContextFilter(logging.Filter):
    """Adds trace_id and span_id of the active span to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        ctx = trace.get_current_span().get_span_context()
        if ctx.is_valid:
            record.trace_id = format(ctx.trace_id, "032x")
            record.span_id = format(ctx.span_id, "016x")
        return True


class PersonalDataFilter(logging.Filter):
    """Withholds personal `extra` fields and the data a database error quotes in the message."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key in vars(record).keys() - _STANDARD:
            if key.lower() in PERSONAL_FIELDS:
                setattr(record, key, WITHHELD)
        # Rendered once here, so an argument holding an error's text is scrubbed like the message itself.
        message = record.getMessage()
        cleaned = scrub(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class PrivateJsonFormatter(JsonFormatter):
    """JSON records whose tracebacks are scrubbed (a database error's text quotes the values it failed on)."""

    def formatException(self, ei: ExcInfo) -> str:  # type: ignore[override]
        return scrub(super().formatException(ei))

    def formatStack(self, stack_info: str) -> str:
        return scrub(super().formatStack(stack_info))


def setup_logging(service_name: str, level: str = "INFO") -> None:
    """Route every logger to one JSON handler on stdout."""
    handler = logging.StreamHandler(sys.stdout)
    handler.addFilter(_TraceContextFilter())
    handler.addFilter(PersonalDataFilter())
    handler.setFormatter(
        PrivateJsonFormatter(
            "{asctime}{levelname}{name}{message}",
            style="{",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            static_fields={"service": service_name},
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("nats", "uvicorn.access", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
