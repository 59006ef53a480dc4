"""One migrated notification runtime (fresh database, own nats-server) shared by this package's tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

import pytest
import pytest_asyncio

from crm_common.service import Runtime
from notification.app import DEFINITION

from .kit import SECRETS, Kit, make_kit
from .providers import Providers, running_providers


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def runtime(service_runtime: Callable[..., AbstractAsyncContextManager[Runtime]]) -> AsyncIterator[Runtime]:
    """Tests share it and keep apart by using their own lead and recipient ids."""
    # The provider stand-ins listen on loopback, which the egress guard refuses unless it is allowed.
    async with service_runtime(DEFINITION, max_deliver=3, outbound_allowed_networks="127.0.0.0/8") as rt:
        yield rt


@pytest_asyncio.fixture(loop_scope="session")
async def providers(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Providers]:
    """Fresh provider stand-ins for one test, with the channel secrets in the environment (as a Secret would be)."""
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    async with running_providers() as running:
        yield running


@pytest_asyncio.fixture(loop_scope="session")
async def kit(runtime: Runtime, providers: Providers) -> AsyncIterator[Kit]:
    """A dispatcher with quick retries, its registry and health monitor, and fresh channels on the stand-ins."""
    async with make_kit(runtime, providers) as made:
        yield made
