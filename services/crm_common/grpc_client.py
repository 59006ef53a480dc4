"""gRPC client channels: traced, with keep-alive, the caller's identity token on every call, optional mutual TLS."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import grpc
from opentelemetry.instrumentation.grpc import aio_client_interceptors

from crm_common.grpc_retry import service_config
from crm_common.identity import (
    IdentityClientInterceptor,
    IdentityStreamClientInterceptor,
    Principal,
    SyncIdentityInterceptor,
    TokenCache,
    TokenCodec,
)
from crm_common.settings import TransportSettings

# Retries only for idempotent calls (reads, named from the protos); writes are retried by their callers' logic.
_SERVICE_CONFIG = service_config()
_OPTIONS = [
    ("grpc.service_config", _SERVICE_CONFIG),
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.enable_retries", 1),
]


def token_cache(settings: TransportSettings) -> TokenCache:
    """One token cache per key and lifetime, shared by every channel of the process."""
    return _token_cache(settings.signing_key, settings.identity_ttl_seconds)


@lru_cache(maxsize=8)
def _token_cache(key: str, ttl_seconds: int) -> TokenCache:
    return TokenCache(TokenCodec(key, ttl_seconds=ttl_seconds))


def channel_credentials(settings: TransportSettings) -> grpc.ChannelCredentials:
    """Mutual TLS: trust the cluster's CA and present this pod's certificate."""
    with open(settings.grpc_tls_ca_file, "rb") as ca, open(settings.grpc_tls_key_file, "rb") as key:
        with open(settings.grpc_tls_cert_file, "rb") as cert:
            return grpc.ssl_channel_credentials(ca.read(), key.read(), cert.read())


def open_channel(
    address: str,
    *,
    caller: Callable[[], Principal | None] | None = None,
    settings: TransportSettings | None = None,
) -> grpc.aio.Channel:
    """An aio channel to a peer service: traced, every call carrying the token of `caller()` (when given).

    Settings (identity key, TLS files) default to the environment's.
    """
    settings = settings or TransportSettings()
    interceptors: list[grpc.aio.ClientInterceptor] = list(aio_client_interceptors())
    if caller is not None:
        unary = IdentityClientInterceptor(token_cache(settings), caller)
        interceptors += [unary, IdentityStreamClientInterceptor(unary)]
    if settings.tls_enabled:
        return grpc.aio.secure_channel(
            address, channel_credentials(settings), interceptors=interceptors, options=_OPTIONS
        )
    return grpc.aio.insecure_channel(address, interceptors=interceptors, options=_OPTIONS)


def channel_as(address: str, principal: Principal, *, settings: TransportSettings | None = None) -> grpc.aio.Channel:
    """An aio channel whose every call is made as one principal (tools and tests)."""
    return open_channel(address, caller=lambda: principal, settings=settings)


def blocking_channel_as(address: str, principal: Principal, *, settings: TransportSettings | None = None) -> grpc.Channel:
    """A blocking channel whose every call is made as one principal (seeding, scripts, cross-process tests)."""
    settings = settings or TransportSettings()
    if settings.tls_enabled:
        channel = grpc.secure_channel(address, channel_credentials(settings), options=_OPTIONS)
    else:
        channel = grpc.insecure_channel(address, options=_OPTIONS)
    return grpc.intercept_channel(channel, SyncIdentityInterceptor(token_cache(settings), lambda: principal))
