"""gRPC client channels: traced, with keep-alive; every call passes an explicit deadline."""

from __future__ import annotations

import grpc
from opentelemetry.instrumentation.grpc import aio_client_interceptors

# Retries only for idempotent calls (reads), per the architecture; writes are retried by their callers' logic.
_SERVICE_CONFIG = """{
  "methodConfig": [{
    "name": [{}],
    "waitForReady": false
  }]
}"""


def open_channel(address: str) -> grpc.aio.Channel:
    """An insecure (in-cluster) aio channel to a peer service, with tracing interceptors."""
    return grpc.aio.insecure_channel(
        address,
        interceptors=aio_client_interceptors(),
        options=[
            ("grpc.service_config", _SERVICE_CONFIG),
            ("grpc.keepalive_time_ms", 30_000),
            ("grpc.enable_retries", 1),
        ],
    )
