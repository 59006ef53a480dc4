"""Queries of pipeline versions: a version is inserted once and never changed, so a version is cached forever."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from crm_common.errors import NotFound
from pipeline.definitions.model import Pipeline, parse
from pipeline.tables import pipelines

# (key, version) -> Pipeline; versions are immutable, so this never goes stale.
_VERSIONS: dict[tuple[str, int], Pipeline] = {}
# key -> (live version, when read): a move adopts a version put on another replica at most this late.
LIVE_TTL_SECONDS = 1.0
_LIVE: dict[str, tuple[int, float]] = {}


async def insert_version(
    conn: AsyncConnection, *, key: str, definition: dict[str, Any], created_by: str, created_at: datetime, reason: str
) -> Row:
    """The next version of a key (the first is 1); serialised per key by a transaction-level advisory lock."""
    await conn.execute(select(func.pg_advisory_xact_lock(func.hashtext(f"pipeline:{key}"))))
    latest = (await conn.execute(select(func.max(pipelines.c.version)).where(pipelines.c.key == key))).scalar()
    version = (latest or 0) + 1
    _LIVE.pop(key, None)
    return (
        await conn.execute(
            pipelines.insert()
            .values(
                key=key, version=version, definition=definition, created_by=created_by, created_at=created_at,
                reason=reason,
            )
            .returning(*pipelines.c)
        )
    ).one()


async def get_row(conn: AsyncConnection, *, key: str, version: int | None = None) -> Row | None:
    """A version of a pipeline (None: the live, highest one)."""
    query = select(pipelines).where(pipelines.c.key == key)
    query = query.where(pipelines.c.version == version) if version else query.order_by(pipelines.c.version.desc())
    return (await conn.execute(query.limit(1))).first()


def of_row(row: Row) -> Pipeline:
    """The Pipeline of a stored version (parsed once per process)."""
    found = _VERSIONS.get((row.key, row.version))
    if found is None:
        parsed = parse(row.key, row.definition | {"version": row.version})
        found = _VERSIONS[(row.key, row.version)] = parsed
    return found


async def load(conn: AsyncConnection, *, key: str, version: int | None = None) -> Pipeline:
    """A version of a pipeline (None: the live one); NotFound when there is none."""
    if version and (key, version) in _VERSIONS:
        return _VERSIONS[(key, version)]
    row = await get_row(conn, key=key, version=version)
    if row is None:
        raise NotFound(f"pipeline {key!r} not found")
    return of_row(row)


async def live(conn: AsyncConnection, *, key: str) -> Pipeline:
    """The live version of a pipeline, its number re-read at most once a second (stage changes ask on every move)."""
    known = _LIVE.get(key)
    if known is None or time.monotonic() - known[1] > LIVE_TTL_SECONDS:
        known = _LIVE[key] = (await live_version(conn, key=key), time.monotonic())
    return await load(conn, key=key, version=known[0])


async def live_version(conn: AsyncConnection, *, key: str) -> int:
    """The live version number of a key (0 when the key has none)."""
    return int(
        (await conn.execute(select(func.max(pipelines.c.version)).where(pipelines.c.key == key))).scalar() or 0
    )
