"""Which failures are the infrastructure's (a database, NATS or a peer service away) rather than a message's own."""

from __future__ import annotations

import asyncio

import grpc
import nats.errors
import psycopg
from sqlalchemy import exc as sa_exc

from crm_common.errors import Unavailable

# SQLSTATEs of a server going away or refusing work for a while: connection exceptions (class 08), shutdowns
# (57P01-57P03), too many connections, a read-only transaction (a failover's old primary), and the transaction
# conflicts PostgreSQL asks clients to retry. A statement timeout (57014) is not here: a message that always
# takes too long is poison.
_TRANSIENT_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "53300", "25006", "40001", "40P01"})
_TRANSIENT_GRPC = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})


def _is_outage(err: BaseException) -> bool:
    if isinstance(err, sa_exc.DBAPIError) and err.connection_invalidated:
        return True
    if isinstance(err, sa_exc.TimeoutError | sa_exc.DisconnectionError | sa_exc.InterfaceError):
        return True  # the pool found no connection in time, or the driver lost its connection
    if isinstance(err, psycopg.Error) and not isinstance(err, psycopg.ProgrammingError | psycopg.DataError):
        state = err.sqlstate
        if isinstance(err, psycopg.OperationalError | psycopg.InterfaceError) and state is None:
            return True  # no server answered: refused, reset, closed
        return state is not None and (state.startswith("08") or state in _TRANSIENT_SQLSTATES)
    if isinstance(err, grpc.aio.AioRpcError):
        return err.code() in _TRANSIENT_GRPC
    if isinstance(err, Unavailable):
        return True
    return isinstance(err, ConnectionError | asyncio.TimeoutError | nats.errors.Error)


def is_infrastructure_failure(err: BaseException) -> bool:
    """True when `err`, or an exception it was raised from, says a dependency is away, not that the input is bad."""
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if _is_outage(current):
            return True
        current = current.__cause__ or current.__context__
    return False
