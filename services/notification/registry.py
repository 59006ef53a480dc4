"""The configured channels of this process, as adapters, reloaded from the database when they change."""

from __future__ import annotations

import asyncio
from datetime import datetime

import httpx

from crm_common.db import Database
from crm_common.egress import EgressGuard
from crm_common.secret_refs import SecretResolver
from notification import config_repository
from notification.providers import KINDS, build_adapter
from notification.providers.base import ChannelConfig, ProviderAdapter
from notification.providers.tokens import TokenStore


class ChannelRegistry:
    """Adapters by channel name (enabled channels only), rebuilt when a channel's row changes."""

    def __init__(
        self,
        db: Database,
        *,
        http: httpx.AsyncClient,
        tokens: TokenStore,
        guard: EgressGuard,
        secrets: SecretResolver,
        reload_seconds: float = 2.0,
    ) -> None:
        self.db = db
        self.http = http
        self.tokens = tokens
        self.guard = guard
        self.secrets = secrets
        self.reload_seconds = reload_seconds
        self._adapters: dict[str, tuple[datetime, ProviderAdapter]] = {}
        self._loaded_at = float("-inf")
        self._lock = asyncio.Lock()

    def invalidate(self) -> None:
        """Reload at the next use (a channel was just saved)."""
        self._loaded_at = float("-inf")

    async def _refresh(self) -> None:
        loop = asyncio.get_running_loop()
        if loop.time() - self._loaded_at < self.reload_seconds:
            return
        async with self._lock:
            if loop.time() - self._loaded_at < self.reload_seconds:
                return
            async with self.db.connect() as conn:
                rows = await config_repository.list_channels(conn)
            adapters: dict[str, tuple[datetime, ProviderAdapter]] = {}
            for row in rows:
                if not row.enabled or row.kind not in KINDS:
                    continue
                cached = self._adapters.get(row.name)
                if cached is not None and cached[0] == row.updated_at:
                    adapters[row.name] = cached
                    continue
                config = ChannelConfig(
                    name=row.name,
                    kind=row.kind,
                    settings={k: str(v) for k, v in (row.settings or {}).items()},
                    secret_refs={k: str(v) for k, v in (row.secret_refs or {}).items()},
                    rate_limit_per_minute=row.rate_limit_per_minute,
                )
                adapters[row.name] = (row.updated_at, build_adapter(
                    config, http=self.http, tokens=self.tokens, guard=self.guard, secrets=self.secrets
                ))
            self._adapters = adapters
            self._loaded_at = loop.time()

    async def get(self, name: str) -> ProviderAdapter | None:
        await self._refresh()
        entry = self._adapters.get(name)
        return entry[1] if entry else None

    async def all(self) -> list[ProviderAdapter]:
        await self._refresh()
        return [adapter for _, adapter in self._adapters.values()]


def rate_limit(adapter: ProviderAdapter) -> int:
    """Provider calls a minute the channel may make (0: no limit of ours)."""
    return adapter.config.rate_limit_per_minute or adapter.default_rate_limit
