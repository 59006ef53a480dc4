"""The gRPC service config of every client channel: idempotent reads retried on UNAVAILABLE, derived from the protos."""

from __future__ import annotations

import importlib
import json
import pkgutil
from functools import lru_cache

import crm

# Methods that only read (by the API's naming rules): safe to send again when the first attempt may have reached
# the server. Everything else (writes, ResolveCustomer, ExportReport) is retried only by its caller's own logic.
READ_PREFIXES = ("Get", "List", "Match", "Explain", "DryRun", "Validate")
RETRY_POLICY = {
    # gRPC caps attempts at 5; every attempt stays under the call's own deadline.
    "maxAttempts": 4,
    "initialBackoff": "0.1s",
    "maxBackoff": "1s",
    "backoffMultiplier": 2,
    "retryableStatusCodes": ["UNAVAILABLE"],
}


@lru_cache(maxsize=1)
def read_methods() -> tuple[tuple[str, str], ...]:
    """(full service name, method name) of every read method of the generated services."""
    found: set[tuple[str, str]] = set()
    for module_info in pkgutil.walk_packages(crm.__path__, "crm."):
        if not module_info.name.endswith("_pb2"):
            continue
        descriptor = importlib.import_module(module_info.name).DESCRIPTOR
        for service in descriptor.services_by_name.values():
            for method in service.methods:
                if method.name.startswith(READ_PREFIXES):
                    found.add((service.full_name, method.name))
    return tuple(sorted(found))


@lru_cache(maxsize=1)
def service_config() -> str:
    """JSON service config: reads retried with backoff; a retry budget so an outage does not multiply the load."""
    reads = [{"service": service, "method": method} for service, method in read_methods()]
    return json.dumps(
        {
            "methodConfig": [
                {"name": reads, "waitForReady": False, "retryPolicy": RETRY_POLICY},
                {"name": [{}], "waitForReady": False},
            ],
            # Retries stop while more than half of recent calls fail, and resume as calls succeed again.
            "retryThrottling": {"maxTokens": 10, "tokenRatio": 0.1},
        }
    )
