"""Rate limits per API key and per webhook source, shared by every edge replica through NATS JetStream's KV store.

The limit is a rate with a burst (GCRA: the generic cell rate algorithm): `600/minute` lets a caller send 600
requests at once and then one every 100 ms. Each key of the store holds one number, the caller's "theoretical
arrival time", updated with compare-and-set, so replicas never overwrite each other. docs/rate-limits-and-idempotency.md
says how to configure it and why it fails open.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.core.errors import problem_response
from gateway.core.security import is_protected

if TYPE_CHECKING:
    from nats.js.kv import KeyValue

log = logging.getLogger(__name__)

_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*(second|minute|hour|day|s|m|h|d)s?\s*$")
_UNITS = {"s": 1, "second": 1, "m": 60, "minute": 60, "h": 3600, "hour": 3600, "d": 86400, "day": 86400}
WEBHOOK_PREFIX = "/v1/webhooks/"
# Compare-and-set rounds before a request on a key that busy is refused (it is far over any sane limit then).
CAS_ATTEMPTS = 8
# Keys whose last written state a replica remembers (a bound on memory, not a cache that must be exact).
MAX_KNOWN_KEYS = 100_000
# After the store failed, requests skip it (and pass) for this long instead of each waiting for the timeout.
STORE_BACKOFF_SECONDS = 5.0


@dataclass(frozen=True)
class Rate:
    """`count` requests per `period` seconds, all of them at once if need be."""

    count: int
    period: float

    @classmethod
    def parse(cls, text: str) -> Rate:
        """A rate from `<count>/<period>`: 600/minute, 10/second, 5000/hour, 100/10s."""
        match = _RATE.fullmatch(text)
        if match is None or int(match[1]) < 1:
            raise ValueError(f"{text!r} is not a rate like 600/minute, 10/second or 100/10s (count at least 1)")
        return cls(int(match[1]), int(match[2] or 1) * _UNITS[match[3]])

    @property
    def interval(self) -> float:
        return self.period / self.count


def gcra(tat: float | None, now: float, rate: Rate) -> tuple[float, float]:
    """(new theoretical arrival time, seconds to wait): 0 s means allowed, and the new time is to be stored."""
    start = max(tat or now, now)
    allowed_from = start + rate.interval - rate.period
    if allowed_from > now:
        return start, allowed_from - now
    return start + rate.interval, 0.0


class RateLimits(BaseModel):
    """CRM_RATE_LIMITS (JSON): the default rate per API key and per webhook source, and overrides by name."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    per_api_key: str = "12000/minute"
    per_webhook_source: str = "6000/minute"
    # "key:<API key name>" or "webhook:<source>" -> rate.
    overrides: dict[str, str] = {}

    @field_validator("per_api_key", "per_webhook_source")
    @classmethod
    def _rate(cls, value: str) -> str:
        Rate.parse(value)
        return value

    @field_validator("overrides")
    @classmethod
    def _rates(cls, value: dict[str, str]) -> dict[str, str]:
        for name, rate in value.items():
            if not name.startswith(("key:", "webhook:")):
                raise ValueError(f"override {name!r} must name key:<API key name> or webhook:<source>")
            Rate.parse(rate)
        return value

    def rate(self, name: str, default: str) -> Rate:
        return Rate.parse(self.overrides.get(name, default))


class RateLimitSettings(BaseSettings):
    """How the edge limits callers (CRM_RATE_LIMITS, CRM_RATE_LIMIT_BUCKET, CRM_RATE_LIMIT_STORE_TIMEOUT_SECONDS)."""

    model_config = SettingsConfigDict(env_prefix="CRM_", extra="ignore", frozen=True)

    rate_limits: RateLimits = RateLimits()
    rate_limit_bucket: str = "crm_rate_limits"
    rate_limit_store_timeout_seconds: float = 0.25


class Store(Protocol):
    """Where the callers' arrival times live."""

    async def open(self) -> None:
        """Connect; until this returns the limiter lets requests through."""

    async def take(self, key: str, rate: Rate, now: float) -> float:
        """Count one request on `key`; the seconds to wait (0: allowed)."""

    async def close(self) -> None: ...


class LocalStore:
    """One process's arrival times: used only when the edge has no NATS (then each replica limits on its own)."""

    MAX_KEYS = 100_000

    def __init__(self) -> None:
        self._tats: dict[str, float] = {}

    async def open(self) -> None:
        return None

    async def take(self, key: str, rate: Rate, now: float) -> float:
        if len(self._tats) > self.MAX_KEYS:
            self._tats = {k: t for k, t in self._tats.items() if t > now}
        tat, wait = gcra(self._tats.get(key), now, rate)
        if not wait:
            self._tats[key] = tat
        return wait

    async def close(self) -> None:
        self._tats.clear()


class KvStore:
    """Arrival times in a JetStream key-value bucket, shared by every replica; compare-and-set updates."""

    def __init__(self, nats_url: str, *, bucket: str, ttl: float, credentials: str = "") -> None:
        self._servers = [s.strip() for s in nats_url.split(",") if s.strip()]
        self._bucket, self._ttl, self._credentials = bucket, ttl, credentials
        self._nc: Any = None
        self._kv: KeyValue | None = None
        self._queues: dict[str, list[tuple[float, asyncio.Future[float]]]] = {}
        self._runners: set[asyncio.Task[None]] = set()
        self._draining: set[str] = set()
        self._known: dict[str, tuple[float | None, int | None]] = {}

    async def open(self) -> None:
        """Connect (retrying until NATS answers) and find or create the bucket."""
        # Imported here: an edge without NATS never loads the client (start-up time counts on a busy node).
        import nats
        from nats.aio.client import RawCredentials
        from nats.js.api import KeyValueConfig, StorageType
        from nats.js.errors import BucketNotFoundError

        if self._nc is None:
            self._nc = await nats.connect(
                servers=self._servers,
                name="gateway-rate-limits",
                connect_timeout=2,
                max_reconnect_attempts=-1,
                reconnect_time_wait=0.5,
                user_credentials=RawCredentials(self._credentials) if self._credentials else None,
            )
        js = self._nc.jetstream()
        try:
            self._kv = await js.key_value(self._bucket)
        except BucketNotFoundError:
            # Replicas creating it at once is fine: the same configuration is accepted twice. In memory: counts are
            # worth less than a disk write per request, and a NATS restart forgetting them only resets the limits.
            config = KeyValueConfig(bucket=self._bucket, history=1, ttl=self._ttl, storage=StorageType.MEMORY)
            self._kv = await js.create_key_value(config)

    async def take(self, key: str, rate: Rate, now: float) -> float:
        # Requests on one key wait for the write in flight and then go as one batch, so that this replica makes one
        # compare-and-set per key at a time: concurrent requests of a busy caller would otherwise keep losing it.
        waiter: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._queues.setdefault(key, []).append((now, waiter))
        if key not in self._draining:
            self._draining.add(key)
            self._runners.add(task := asyncio.create_task(self._drain(key, rate)))
            task.add_done_callback(self._runners.discard)
        return await waiter

    async def _drain(self, key: str, rate: Rate) -> None:
        """Count the key's waiting requests, batch after batch, until none waits (the key's only drain)."""
        try:
            await self._drain_batches(key, rate)
        finally:
            self._draining.discard(key)
            for _, waiter in self._queues.pop(key, []):  # only if cancelled: a finished drain left none waiting
                waiter.cancel()

    async def _drain_batches(self, key: str, rate: Rate) -> None:
        while batch := self._queues.get(key, []):
            self._queues[key] = []
            try:
                waits = await self._take_batch(key, rate, [now for now, _ in batch])
            except asyncio.CancelledError:
                for _, waiter in batch:
                    waiter.cancel()
                raise
            except Exception as err:
                for _, waiter in batch:
                    if not waiter.done():
                        waiter.set_exception(err)
                continue
            for (_, waiter), wait in zip(batch, waits, strict=True):
                if not waiter.done():  # its request gave up waiting
                    waiter.set_result(wait)

    async def _take_batch(self, key: str, rate: Rate, arrivals: list[float]) -> list[float]:
        """Count requests (their arrival times) on a key with one compare-and-set; the wait of each."""
        from nats.js.errors import KeyDeletedError, KeyNotFoundError, KeyWrongLastSequenceError

        kv = self._kv
        assert kv is not None, "take() before open()"
        # What this replica wrote last: tried first (one round trip), read again only when another replica wrote.
        # An arrival time only grows, so a refusal on the remembered one is a refusal on the current one.
        known = self._known.get(key)
        for _ in range(CAS_ATTEMPTS):
            if known is None:
                try:
                    entry = await kv.get(key)
                    known = (float(entry.value or b"0"), entry.revision)
                except (KeyNotFoundError, KeyDeletedError):
                    known = (None, None)
            tat, revision = known
            start, waits = tat, []
            for now in arrivals:
                new_tat, wait = gcra(tat, now, rate)
                tat = tat if wait else new_tat
                waits.append(wait)
            if tat == start:
                return waits
            try:
                if revision is None:
                    written = await kv.create(key, repr(tat).encode())
                else:
                    written = await kv.update(key, repr(tat).encode(), last=revision)
            except KeyWrongLastSequenceError:
                known = None  # another replica counted requests on this key meanwhile: read it again
                continue
            if len(self._known) > MAX_KNOWN_KEYS:
                self._known.clear()
            self._known[key] = (tat, written)
            return waits
        return [rate.interval] * len(arrivals)

    async def close(self) -> None:
        for runner in list(self._runners):
            runner.cancel()
        if self._nc is not None:
            await self._nc.close()
        self._nc, self._kv = None, None


class RateLimiter:
    """Decides per request, failing open when the shared store cannot answer in time."""

    def __init__(self, store: Store, limits: RateLimits, *, timeout: float, clock: Callable[[], float] = time.time):
        self.store, self.limits, self.timeout, self.clock = store, limits, timeout, clock
        self._skip_until = 0.0
        self._opening: asyncio.Task[None] | None = None

    def start(self) -> asyncio.Task[None]:
        """Open the store in the background (again, after it failed); requests pass until it is open."""
        if self._opening is None or _failed(self._opening):
            self._opening = asyncio.create_task(self.store.open())
        return self._opening

    async def ready(self) -> None:
        """Wait until the store is open (tests, and callers that prefer waiting to passing unlimited)."""
        await self.start()

    async def wait_for(self, buckets: list[tuple[str, Rate]]) -> float:
        """Seconds until the caller may send again (0: go ahead); the request is counted in every bucket."""
        now = self.clock()
        opening = self.start()
        if not opening.done() or _failed(opening) or time.monotonic() < self._skip_until:
            return 0.0
        try:
            async with asyncio.timeout(self.timeout):
                waits = [await self.store.take(_store_key(name), rate, now) for name, rate in buckets]
        except Exception as err:  # the store is down or slow: serve rather than refuse (the doc says why)
            self._skip_until = time.monotonic() + STORE_BACKOFF_SECONDS
            log.warning("rate limit store unavailable, not limiting for %ss: %s", STORE_BACKOFF_SECONDS, type(err).__name__)
            return 0.0
        return max(waits, default=0.0)

    async def close(self) -> None:
        if self._opening is not None and not self._opening.done():
            self._opening.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._opening
        await self.store.close()


def _failed(task: asyncio.Task[None]) -> bool:
    return task.done() and (task.cancelled() or task.exception() is not None)


def _store_key(name: str) -> str:
    """A KV key for a bucket name (KV keys allow few characters; names are API key ids and source slugs)."""
    kind, _, ident = name.partition(":")
    return f"{kind}.{hashlib.sha256(ident.encode()).hexdigest()[:32]}"


def rate_limiter(app: FastAPI, nats_url: str, *, credentials: str = "") -> RateLimiter:
    """The app's limiter (kept as app.state.rate_limiter): shared through NATS when the edge has it."""
    settings = RateLimitSettings()
    limits = settings.rate_limits
    if nats_url:
        rates = (limits.per_api_key, limits.per_webhook_source, *limits.overrides.values())
        longest = max(Rate.parse(r).period for r in rates)
        store: Store = KvStore(nats_url, bucket=settings.rate_limit_bucket, ttl=longest, credentials=credentials)
    else:
        log.warning("no NATS configured: rate limits are counted per edge process, not across replicas")
        store = LocalStore()
    app.state.rate_limiter = RateLimiter(store, limits, timeout=settings.rate_limit_store_timeout_seconds)
    return app.state.rate_limiter


def webhook_source(scope: Scope) -> str | None:
    path: str = scope["path"]
    if scope.get("method") == "POST" and path.startswith(WEBHOOK_PREFIX):
        source = path[len(WEBHOOK_PREFIX) :]
        return source if source and "/" not in source else None
    return None


class RateLimit:
    """429 with Retry-After once a caller's API key, or a webhook's source, is over its rate (after RequireApiKey)."""

    def __init__(self, app: ASGIApp, limiter: RateLimiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, self._opening(receive), self._closing(send))
            return
        caller = scope.get("state", {}).get("caller") if scope["type"] == "http" else None
        if caller is None or not is_protected(scope["path"]):
            await self.app(scope, receive, send)
            return
        limits = self.limiter.limits
        name = getattr(caller, "name", None)
        ident = getattr(caller, "subject", "") or (f"name:{name}" if name else f"role:{caller.role}")
        buckets = [(f"key:{ident}", limits.rate(f"key:{name}", limits.per_api_key))]
        source = webhook_source(scope)
        if source is not None:
            buckets.append((f"webhook:{source}", limits.rate(f"webhook:{source}", limits.per_webhook_source)))
        wait = await self.limiter.wait_for(buckets)
        if wait:
            retry_after = str(max(1, math.ceil(wait)))
            response = problem_response(
                429,
                f"too many requests: retry after {retry_after} s",
                instance=scope["path"],
                headers={"Retry-After": retry_after},
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _opening(self, receive: Receive) -> Receive:
        async def opening() -> Message:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.limiter.start()  # connect while the app starts, not on the first request
            return message

        return opening

    def _closing(self, send: Send) -> Send:
        async def closing(message: Message) -> None:
            if message["type"] == "lifespan.shutdown.complete":
                await self.limiter.close()
            await send(message)

        return closing
