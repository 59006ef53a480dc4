"""Async SQLAlchemy on psycopg: one engine per process, one PostgreSQL schema per service."""

from __future__ import annotations

import select
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import MetaData, event, text
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from crm_common.telemetry import instrument_sqlalchemy

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def service_metadata(schema: str) -> MetaData:
    """Metadata whose tables all live in the service's own schema."""
    return MetaData(schema=schema, naming_convention=NAMING_CONVENTION)


def async_url(url: str) -> str:
    """Accept plain postgresql:// URLs and use the psycopg (v3) driver."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _refuse_closed_connection(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """Checkout hook: an idle pooled connection has nothing to read unless the server closed it (or is closing
    it, e.g. after a restart); the pool then opens a fresh one. Costs one poll, not a round trip."""
    raw = dbapi_connection.driver_connection
    if raw.closed or raw.broken:
        raise DisconnectionError("connection closed")
    poller = select.poll()  # poll, not select: no limit on the descriptor's number
    try:
        poller.register(raw.pgconn.socket, select.POLLIN)
        ready = poller.poll(0)
    except (OSError, ValueError) as err:
        raise DisconnectionError(f"connection unusable: {err}") from err
    if ready:
        raise DisconnectionError("the server closed the connection")


class Database:
    """The process's engine; `transaction()` yields a connection inside one transaction."""

    def __init__(
        self, url: str, *, pool_size: int = 10, max_overflow: int | None = None, instrument: bool = True
    ) -> None:
        overflow = pool_size if max_overflow is None else max_overflow
        # hide_parameters: an error's text (logged, recorded on spans, returned to callers) never carries the
        # statement's bound values, which are names, phones and companies.
        self.engine: AsyncEngine = create_async_engine(
            async_url(url), pool_size=pool_size, max_overflow=overflow, pool_recycle=1800, hide_parameters=True
        )
        # Instead of pool_pre_ping (a SELECT 1 round trip before every transaction): drop a pooled connection
        # the server has closed, which an idle connection shows by a readable socket.
        event.listen(self.engine.sync_engine, "checkout", _refuse_closed_connection)
        if instrument:
            instrument_sqlalchemy(self.engine)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        async with self.engine.begin() as conn:
            yield conn

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads (autobegin; rolled back at the end)."""
        async with self.engine.connect() as conn:
            yield conn

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads outside a transaction: no BEGIN and no ROLLBACK round trip.

        Each statement sees what was committed when it started (as in a READ COMMITTED transaction), but
        nothing is held between statements and anything written is committed at once: for reads only.
        """
        async with self.engine.connect() as conn:
            yield await conn.execution_options(isolation_level="AUTOCOMMIT")

    async def ping(self) -> bool:
        """True when the database answers."""
        try:
            async with self.read() as conn:
                await conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    async def dispose(self) -> None:
        await self.engine.dispose()
