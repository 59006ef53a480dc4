"""Personal data stays out of logs, spans and metric labels: a database error's values never leave the process."""

from __future__ import annotations

import io
import json
import logging
import uuid

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from crm_common.db import Database
from crm_common.logs import WITHHELD, PersonalDataFilter, PrivateJsonFormatter
from crm_common.metrics import OTHER, bounded_label
from crm_common.telemetry import ScrubbingSpanExporter, instrument_sqlalchemy, scrub

CANARY_PHONE = "+8613900" + str(uuid.uuid4().int % 10**6).zfill(6)
CANARY_NAME = "Canary" + uuid.uuid4().hex[:10]


async def _duplicate_error(db: Database) -> IntegrityError:
    """A unique violation on a row that carries the canaries (PostgreSQL quotes the key in DETAIL)."""
    async with db.transaction() as conn:
        await conn.execute(text("CREATE TABLE IF NOT EXISTS people (phone text UNIQUE, name text)"))
        await conn.execute(
            text("INSERT INTO people VALUES (:phone, :name)"), {"phone": CANARY_PHONE, "name": CANARY_NAME}
        )
    with pytest.raises(IntegrityError) as raised:
        async with db.transaction() as conn:
            await conn.execute(
                text("INSERT INTO people VALUES (:phone, :name)"), {"phone": CANARY_PHONE, "name": CANARY_NAME}
            )
    return raised.value


def _json_logger(stream: io.StringIO) -> logging.Logger:
    handler = logging.StreamHandler(stream)
    handler.addFilter(PersonalDataFilter())
    handler.setFormatter(PrivateJsonFormatter("{levelname}{name}{message}", style="{"))
    logger = logging.getLogger(f"privacy-test-{uuid.uuid4().hex}")
    logger.handlers[:] = [handler]
    logger.propagate = False
    return logger


async def test_a_database_error_keeps_its_values_out_of_the_engine_text_the_logs_and_the_spans(
    fresh_db_url: str,
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(ScrubbingSpanExporter(exporter)))
    db = Database(fresh_db_url, pool_size=1, max_overflow=0, instrument=False)
    instrument_sqlalchemy(db.engine, tracer_provider=provider)
    tracer = provider.get_tracer("test")
    try:
        with pytest.raises(IntegrityError) as raised, tracer.start_as_current_span("capture"):  # records it
            raise await _duplicate_error(db)
    finally:
        await db.dispose()
    error = str(raised.value)
    # The engine hides the bound parameters; PostgreSQL's DETAIL still quotes the key, hence the scrubbing.
    assert "hidden due to hide_parameters" in error and CANARY_NAME not in error and CANARY_PHONE in error

    stream = io.StringIO()
    logger = _json_logger(stream)
    try:
        raise raised.value
    except IntegrityError as err:
        logger.exception("capture failed: %s", err)
    record = json.loads(stream.getvalue())
    assert "UniqueViolation" in record["exc_info"] and "duplicate key value" in record["message"]
    assert CANARY_PHONE not in stream.getvalue() and CANARY_NAME not in stream.getvalue()

    spans = {span.name: span for span in exporter.get_finished_spans()}
    failed_insert = next(s for s in spans.values() if s.status.status_code == StatusCode.ERROR and s.name != "capture")
    assert failed_insert.status.description == "UniqueViolation (SQLSTATE 23505, constraint people_phone_key)"
    capture = spans["capture"]
    assert capture.status.status_code == StatusCode.ERROR and "duplicate key value" in (
        capture.status.description or ""
    )
    [event] = capture.events
    assert event.name == "exception" and "UniqueViolation" in str(event.attributes["exception.stacktrace"])
    exported = repr([(s.status.description, [dict(e.attributes or {}) for e in s.events]) for s in spans.values()])
    assert CANARY_PHONE not in exported and CANARY_NAME not in exported


def test_scrub_withholds_what_postgresql_quotes_and_keeps_the_rest() -> None:
    text_ = (
        'duplicate key value violates unique constraint "uq_leads_phone"\n'
        "DETAIL:  Key (phone)=(+8613900001111) already exists.\n"
        "[SQL: INSERT INTO lead.leads (phone) VALUES (%(phone)s)]\n"
        "[parameters: {'phone': '+8613900001111'}]"
    )
    cleaned = scrub(text_)
    assert "+8613900001111" not in cleaned
    assert 'unique constraint "uq_leads_phone"' in cleaned and "[SQL: INSERT INTO lead.leads" in cleaned
    inline = scrub(
        'INTERNAL: boom DETAIL: Failing row contains (x, Wang Fang). invalid input syntax for type uuid: "Wang"'
    )
    assert "Wang" not in inline and "INTERNAL: boom" in inline
    nul = (
        "(psycopg.errors.UntranslatableCharacter) unsupported Unicode escape sequence\n"
        "DETAIL:  \\u0000 cannot be converted to text.\n"
        'CONTEXT:  JSON data, line 1: {"name": "Wang Fang", "notes": "call\n'
        "unnamed portal parameter $5 = '...'\n"
        "[SQL: INSERT INTO lead.lead_touches (input) VALUES (%(input)s::JSONB)]\n"
        "\n"
        "The above exception was the direct cause of the following exception:"
    )
    assert scrub(nul) == (
        "(psycopg.errors.UntranslatableCharacter) unsupported Unicode escape sequence\n"
        "[SQL: INSERT INTO lead.lead_touches (input) VALUES (%(input)s::JSONB)]\n"
        "\n"
        "The above exception was the direct cause of the following exception:"
    )
    assert scrub('null value in column "phone" violates not-null constraint') == (
        'null value in column "phone" violates not-null constraint'
    )


def test_personal_extra_fields_are_withheld_and_ids_kept() -> None:
    stream = io.StringIO()
    logger = _json_logger(stream)
    logger.warning("lead captured", extra={"lead_id": "L-1", "phone": CANARY_PHONE, "company": CANARY_NAME})
    record = json.loads(stream.getvalue())
    assert record["lead_id"] == "L-1" and record["phone"] == WITHHELD and record["company"] == WITHHELD


def test_labels_come_from_a_bounded_set() -> None:
    channels = {"web_form": 1.8, "wecom": 1.2}
    assert bounded_label("web_form", channels) == "web_form"
    assert bounded_label(CANARY_NAME, channels) == OTHER
    assert bounded_label("", frozenset()) == OTHER
