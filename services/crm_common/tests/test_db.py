"""The database layer: a pool that never hands out a closed connection, reads without a transaction, SQL spans."""

from __future__ import annotations

import asyncio

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from crm_common.db import Database
from crm_common.telemetry import instrument_sqlalchemy


async def test_a_connection_the_server_closed_is_replaced_before_use(fresh_db_url: str) -> None:
    db = Database(fresh_db_url, pool_size=1, max_overflow=0, instrument=False)
    admin = Database(fresh_db_url, pool_size=1, max_overflow=0, instrument=False)
    try:
        async with db.connect() as conn:
            first = await conn.scalar(text("SELECT pg_backend_pid()"))
        async with admin.connect() as conn:
            assert await conn.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
            for _ in range(100):  # the backend has exited once it is gone from pg_stat_activity
                alive = await conn.scalar(
                    text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": first}
                )
                await conn.rollback()
                if not alive:
                    break
                await asyncio.sleep(0.05)
        async with db.transaction() as conn:
            second = await conn.scalar(text("SELECT pg_backend_pid()"))
        assert second != first
    finally:
        await db.dispose()
        await admin.dispose()


async def test_reads_run_outside_a_transaction_and_leave_the_pool_transactional(fresh_db_url: str) -> None:
    db = Database(fresh_db_url, pool_size=1, max_overflow=0, instrument=False)
    try:
        async with db.read() as conn:
            await conn.execute(text("SELECT pg_sleep(0.02)"))
            # Outside a transaction every statement starts its own: its transaction began with it.
            assert await conn.scalar(text("SELECT now() = statement_timestamp()"))
        async with db.connect() as conn:
            await conn.execute(text("SELECT pg_sleep(0.02)"))
            assert not await conn.scalar(text("SELECT now() = statement_timestamp()"))
        async with db.transaction() as conn:
            await conn.execute(text("CREATE TABLE kept (n int)"))
        try:
            async with db.transaction() as conn:  # the same pooled connection, transactional again
                await conn.execute(text("INSERT INTO kept VALUES (1)"))
                raise RuntimeError("roll it back")
        except RuntimeError:
            pass
        async with db.read() as conn:
            assert await conn.scalar(text("SELECT count(*) FROM kept")) == 0
    finally:
        await db.dispose()


async def test_every_statement_is_a_client_span_in_the_callers_trace(fresh_db_url: str) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    db = Database(fresh_db_url, pool_size=1, max_overflow=0, instrument=False)
    instrument_sqlalchemy(db.engine, tracer_provider=provider)
    try:
        with provider.get_tracer("test").start_as_current_span("handler") as parent:
            for _ in range(2):
                async with db.read() as conn:
                    await conn.execute(text("SELECT 1"))
            with pytest.raises(DBAPIError):
                async with db.read() as conn:
                    await conn.execute(text("SELECT no_such_column"))
    finally:
        await db.dispose()
    spans = [s for s in exporter.get_finished_spans() if s.name != "handler"]
    database = fresh_db_url.rsplit("/", 1)[1]
    assert [s.name for s in spans] == [f"SELECT {database}"] * 3
    assert all(s.kind == SpanKind.CLIENT and s.parent is not None for s in spans)
    assert {s.parent.span_id for s in spans if s.parent} == {parent.get_span_context().span_id}
    assert spans[0].attributes is not None and spans[0].attributes["db.statement"] == "SELECT 1"
    assert spans[0].attributes["db.system"] == "postgresql"
    assert [s.status.status_code for s in spans] == [StatusCode.UNSET, StatusCode.UNSET, StatusCode.ERROR]
