"""Fixtures of the cross-service tests: an OTLP receiver and the whole stack, started once per session on demand."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tools.devstack import OtlpReceiver, Stack

# Spans reach the receiver within a fraction of a second instead of the SDK's default 5 s.
STACK_ENV = {"OTEL_BSP_SCHEDULE_DELAY": "200"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses the stack as a journey (`-m "not journey"` runs the rest alone)."""
    for item in items:
        if "stack" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.journey)


@pytest.fixture(scope="session")
def otlp_receiver() -> Iterator[OtlpReceiver]:
    """An in-memory OTLP/gRPC receiver every stack service exports its spans to."""
    with OtlpReceiver() as receiver:
        yield receiver


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory, otlp_receiver: OtlpReceiver) -> Iterator[Stack]:
    """Every service as its own process on a fresh PostgreSQL and NATS, seeded; stopped at the end of the session."""
    running = Stack(tmp_path_factory.mktemp("stack"), otlp_endpoint=otlp_receiver.endpoint, env_overrides=STACK_ENV)
    running.start()  # stops whatever it started before raising
    try:
        yield running
    finally:
        running.stop()
