"""The lead service's test bed: a runtime on a fresh database and nats-server, with no customer master to reach."""

from __future__ import annotations

import os

import pytest

from crm_common.settings import PeerAddresses
from lead.app import DEFINITION

# Nothing listens there: a capture's resolve fails fast and the lead goes on without a customer.
os.environ.setdefault("CRM_CUSTOMER_MASTER_ADDR", "127.0.0.1:1")


@pytest.fixture
async def runtime(service_runtime):
    async with service_runtime(DEFINITION, resolve_timeout_seconds=0.5) as runtime:
        runtime.peers = PeerAddresses(customer_master_addr="127.0.0.1:1")
        yield runtime
