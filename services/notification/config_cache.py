"""Templates, recipients and escalation chains as the consumers read them: cached, and dropped at every change.

Every configuration write NOTIFYs `CHANGED_CHANNEL` in its transaction (config_repository does it), so
each replica hears of each change at its commit. A process caches only while it listens: when the
listener is down, every read goes to the database. The handlers of this process also drop the cache
right after their own commit, so a change is seen here before the PutX call even returns.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
from sqlalchemy import Row
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncConnection

from crm_common.db import Database
from notification import config_repository

log = logging.getLogger(__name__)
CHANGED_CHANNEL = config_repository.CHANGED_CHANNEL
# However quiet the channel, nothing cached is older than this (a listener cut off without a word).
MAX_AGE_SECONDS = 30.0
_CACHES: weakref.WeakKeyDictionary[Engine, ConfigCache] = weakref.WeakKeyDictionary()


class ConfigCache:
    """Configuration rows by key, for one database, valid while this process listens for changes."""

    def __init__(self, db: Database, libpq_url: str) -> None:
        self.libpq_url = libpq_url
        self._rows: dict[tuple[str, str], Row[Any] | None] = {}
        self._generation = 0
        self._listening = False
        self._filled_at = 0.0
        _CACHES[db.engine.sync_engine] = self

    @property
    def listening(self) -> bool:
        return self._listening

    @property
    def generation(self) -> int:
        """How many times the cache was dropped (a change heard, or the listener reconnected)."""
        return self._generation

    def close(self, db: Database) -> None:
        """Stop serving this database's reads from the cache."""
        _CACHES.pop(db.engine.sync_engine, None)
        self._listening = False
        self.invalidate()

    def invalidate(self) -> None:
        """Drop everything; a read that started before this does not store what it read."""
        self._generation += 1
        self._rows.clear()

    async def get(self, kind: str, key: str, load: Callable[[], Awaitable[Row[Any] | None]]) -> Row[Any] | None:
        if not self._listening:
            return await load()
        now = asyncio.get_running_loop().time()
        if self._rows and now - self._filled_at > MAX_AGE_SECONDS:
            self.invalidate()
        if (kind, key) in self._rows:
            return self._rows[(kind, key)]
        generation = self._generation
        row = await load()
        if generation == self._generation and self._listening:
            if not self._rows:
                self._filled_at = now
            self._rows[(kind, key)] = row
        return row

    async def run(self) -> None:
        """Listen for configuration changes until cancelled, reconnecting after any failure."""
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self.libpq_url, autocommit=True, keepalives=1, keepalives_idle=10, keepalives_interval=5
                ) as conn:
                    await conn.execute(f'LISTEN "{CHANGED_CHANNEL}"')
                    # What was cached before the LISTEN took effect may have changed unheard.
                    self.invalidate()
                    self._listening = True
                    async for _ in conn.notifies():
                        self.invalidate()
            except asyncio.CancelledError:
                raise
            except Exception as err:
                log.debug("configuration listener reconnecting: %s", err)
            finally:
                self._listening = False
                self.invalidate()
            await asyncio.sleep(1.0)


def _cache_of(conn: AsyncConnection) -> ConfigCache | None:
    return _CACHES.get(conn.sync_engine)


def changed(db: Database) -> None:
    """This process committed a configuration change: drop its cache now, not when the NOTIFY arrives."""
    cache = _CACHES.get(db.engine.sync_engine)
    if cache is not None:
        cache.invalidate()


async def recipient(conn: AsyncConnection, recipient_id: str) -> Row[Any] | None:
    """A recipient's profile (None when there is none)."""
    cache = _cache_of(conn)
    if cache is None:
        return await config_repository.get_recipient(conn, recipient_id=recipient_id)
    return await cache.get(
        "recipient", recipient_id, lambda: config_repository.get_recipient(conn, recipient_id=recipient_id)
    )


async def template(conn: AsyncConnection, name: str) -> Row[Any] | None:
    """A saved template (None when only the built-in one exists)."""
    cache = _cache_of(conn)
    if cache is None:
        return await config_repository.get_template(conn, name=name)
    return await cache.get("template", name, lambda: config_repository.get_template(conn, name=name))


async def escalation_chain(conn: AsyncConnection, team_id: str) -> Row[Any] | None:
    """A team's escalation chain (None: the default)."""
    cache = _cache_of(conn)
    if cache is None:
        return await config_repository.get_escalation_chain(conn, team_id=team_id)
    return await cache.get(
        "escalation_chain", team_id, lambda: config_repository.get_escalation_chain(conn, team_id=team_id)
    )
