"""Reads retry on UNAVAILABLE under their deadline, through the channels' service config; writes are sent once."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest

from crm.lead.v1 import lead_pb2, lead_pb2_grpc
from crm_common.grpc_client import open_channel
from crm_common.grpc_retry import read_methods


class FlakyLeads(lead_pb2_grpc.LeadServiceServicer):
    """Answers UNAVAILABLE to the first `failures` calls of each method, then answers."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls: dict[str, int] = {}

    async def _count(self, method: str, context: grpc.aio.ServicerContext) -> None:
        self.calls[method] = self.calls.get(method, 0) + 1
        if self.calls[method] <= self.failures:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "warming up")

    async def GetLead(self, request, context):  # type: ignore[no-untyped-def]
        await self._count("GetLead", context)
        return lead_pb2.GetLeadResponse()

    async def CaptureLead(self, request, context):  # type: ignore[no-untyped-def]
        await self._count("CaptureLead", context)
        return lead_pb2.CaptureLeadResponse()


async def _serve(servicer: FlakyLeads) -> AsyncIterator[str]:
    server = grpc.aio.server()
    lead_pb2_grpc.add_LeadServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        await server.stop(None)


@pytest.fixture
async def flaky() -> AsyncIterator[tuple[FlakyLeads, str]]:
    servicer = FlakyLeads(failures=2)
    async for address in _serve(servicer):
        yield servicer, address


async def test_a_read_is_retried_on_unavailable_and_succeeds(flaky: tuple[FlakyLeads, str]) -> None:
    servicer, address = flaky
    async with open_channel(address) as channel:
        await lead_pb2_grpc.LeadServiceStub(channel).GetLead(lead_pb2.GetLeadRequest(), timeout=10)
    assert servicer.calls["GetLead"] == 3


async def test_a_write_is_not_retried(flaky: tuple[FlakyLeads, str]) -> None:
    servicer, address = flaky
    async with open_channel(address) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as failure:
            await lead_pb2_grpc.LeadServiceStub(channel).CaptureLead(lead_pb2.CaptureLeadRequest(), timeout=10)
    assert failure.value.code() == grpc.StatusCode.UNAVAILABLE
    assert servicer.calls["CaptureLead"] == 1


async def test_a_read_failing_past_its_attempts_reports_unavailable() -> None:
    servicer = FlakyLeads(failures=100)
    async for address in _serve(servicer):
        async with open_channel(address) as channel:
            with pytest.raises(grpc.aio.AioRpcError) as failure:
                await lead_pb2_grpc.LeadServiceStub(channel).GetLead(lead_pb2.GetLeadRequest(), timeout=10)
    assert failure.value.code() == grpc.StatusCode.UNAVAILABLE
    assert servicer.calls["GetLead"] == 4  # the policy's attempts, not a loop of the caller's


def test_the_reads_are_derived_from_the_protos_and_exclude_writes() -> None:
    methods = {f"{service}/{method}" for service, method in read_methods()}
    assert "crm.lead.v1.LeadService/GetLead" in methods
    assert "crm.customer.v1.CustomerService/MatchCustomer" in methods
    assert not any(m.endswith(("/CaptureLead", "/ResolveCustomer", "/MergeCustomers")) for m in methods)
