"""Access tokens cached in PostgreSQL for every replica, refreshed ahead of expiry by one worker at a time."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert

from crm_common.db import Database
from crm_common.metrics import NOTIFICATION_TOKEN_EXPIRY
from notification.tables import channel_tokens

# fetch() returns the new token and its lifetime in seconds.
Fetch = Callable[[], Awaitable[tuple[str, float]]]


class TokenStore:
    """Tokens by channel; a token within `refresh_margin` of expiry (or known bad) is refreshed under a lock."""

    def __init__(self, db: Database, *, refresh_margin: float = 300.0) -> None:
        self.db = db
        self.refresh_margin = timedelta(seconds=refresh_margin)
        self.fetches = 0

    async def get(self, channel: str, fetch: Fetch) -> str:
        """A token good for at least the margin, refreshing it if needed."""
        async with self.db.connect() as conn:
            row = (await conn.execute(select(channel_tokens).where(channel_tokens.c.channel == channel))).first()
        if row is not None and self._fresh(channel, row.expires_at, row.refreshed_at):
            return str(row.token)
        return await self.refresh(channel, fetch)

    async def refresh(self, channel: str, fetch: Fetch, *, stale: str | None = None) -> str:
        """Fetch a new token unless another worker already replaced `stale` (or the expiring one) meanwhile."""
        async with self.db.transaction() as conn:
            # Every replica queues here; the first fetches, the others find its token when they get the lock.
            await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"crm-notification-token:{channel}"})
            row = (await conn.execute(select(channel_tokens).where(channel_tokens.c.channel == channel))).first()
            if row is not None and row.token != stale and self._fresh(channel, row.expires_at, row.refreshed_at):
                return str(row.token)
            token, lifetime = await fetch()
            self.fetches += 1
            now = datetime.now(UTC)
            expires_at = now + timedelta(seconds=lifetime)
            await conn.execute(
                insert(channel_tokens)
                .values(channel=channel, token=token, expires_at=expires_at, refreshed_at=now)
                .on_conflict_do_update(
                    index_elements=[channel_tokens.c.channel],
                    set_={"token": token, "expires_at": expires_at, "refreshed_at": now},
                )
            )
        NOTIFICATION_TOKEN_EXPIRY.labels(channel).set(lifetime)
        return token

    async def expires_at(self, channel: str) -> datetime | None:
        """When the cached token of a channel expires (None without one)."""
        async with self.db.connect() as conn:
            value = await conn.scalar(select(channel_tokens.c.expires_at).where(channel_tokens.c.channel == channel))
        return value

    def _fresh(self, channel: str, expires_at: datetime, refreshed_at: datetime) -> bool:
        left = expires_at - datetime.now(UTC)
        NOTIFICATION_TOKEN_EXPIRY.labels(channel).set(left.total_seconds())
        # A short-lived token is refreshed in its last fifth rather than never counting as fresh.
        return left > min(self.refresh_margin, (expires_at - refreshed_at) / 5)
