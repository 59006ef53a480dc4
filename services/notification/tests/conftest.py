"""One migrated notification runtime (fresh database, own nats-server) shared by this package's tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

import pytest_asyncio

from crm_common.service import Runtime
from notification.app import DEFINITION


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def runtime(service_runtime: Callable[..., AbstractAsyncContextManager[Runtime]]) -> AsyncIterator[Runtime]:
    """Tests share it and keep apart by using their own lead and recipient ids."""
    async with service_runtime(DEFINITION, max_deliver=3) as rt:
        yield rt
