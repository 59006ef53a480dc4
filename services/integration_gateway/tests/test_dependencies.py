"""The dependency register: probed entries turn down and up, notification channels come from its gRPC."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest
import pytest_asyncio

from crm.integration.v1 import integration_pb2
from crm.notification.v1 import notification_pb2, notification_pb2_grpc
from crm_common.errors import field_violations_of
from crm_common.grpc_server import GrpcServer
from crm_common.settings import PeerAddresses
from integration_gateway.tests.receiver import Receiver, eventually

pytestmark = pytest.mark.asyncio(loop_scope="session")


class ChannelHealthStandIn(notification_pb2_grpc.NotificationServiceServicer):
    """The notification service's ListChannelHealth, answering what its probes would."""

    async def ListChannelHealth(self, request, context):  # type: ignore[no-untyped-def]
        return notification_pb2.ListChannelHealthResponse(channels=[
            notification_pb2.ChannelHealth(channel="wecom", kind="wecom", up=True),
            notification_pb2.ChannelHealth(channel="sms", kind="sms", up=True, degraded=True, detail="token expired"),
        ])


@pytest_asyncio.fixture(loop_scope="session")
async def notification(stack) -> AsyncIterator[None]:
    runtime, _ = stack
    server = GrpcServer(port=0, service_names=["crm.notification.v1.NotificationService"])
    notification_pb2_grpc.add_NotificationServiceServicer_to_server(ChannelHealthStandIn(), server.server)
    await server.start()
    runtime.peers = PeerAddresses(notification_addr=f"127.0.0.1:{server.port}")
    yield
    await server.stop(0)


async def _listed(stub) -> dict[str, integration_pb2.Dependency]:  # type: ignore[no-untyped-def]
    reply = await stub.ListDependencies(integration_pb2.ListDependenciesRequest())
    return {d.name: d for d in reply.dependencies}


async def test_a_probed_dependency_goes_down_and_comes_back(stack, notification, receiver: Receiver) -> None:
    _, stub = stack
    await stub.PutDependency(integration_pb2.PutDependencyRequest(
        name="finance", kind="system", sla="99.9%", owner="finance-it@example.com", probe_url=receiver.url,
    ))
    await stub.PutDependency(integration_pb2.PutDependencyRequest(name="wecom", kind="wecom", sla="99.5%", owner="it"))

    async def state(up: bool) -> bool:
        entry = (await _listed(stub)).get("finance")
        return entry is not None and entry.probed and entry.up is up
    await eventually(lambda: state(True))
    listed = await _listed(stub)
    assert listed["finance"].sla == "99.9%" and listed["finance"].owner == "finance-it@example.com"
    # Channels come from the notification service; the register adds the SLA and owner it knows.
    assert listed["wecom"].up and listed["wecom"].owner == "it" and listed["wecom"].kind == "wecom"
    assert not listed["sms"].up and listed["sms"].detail == "token expired"
    up_since = listed["finance"].since.ToDatetime()
    await receiver.stop()
    await eventually(lambda: state(False))
    down = (await _listed(stub))["finance"]
    assert down.since.ToDatetime() >= up_since and down.detail


async def test_a_dependency_is_checked_naming_its_fields(stub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.PutDependency(integration_pb2.PutDependencyRequest(
            name="Bad Name", kind="pager", probe_url="http://169.254.169.254/",
        ))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert {v.field for v in field_violations_of(err.value)} == {"name", "kind"}
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.PutDependency(integration_pb2.PutDependencyRequest(
            name="meta", kind="other", probe_url="http://169.254.169.254/",
        ))
    assert [v.field for v in field_violations_of(err.value)] == ["probe_url"]
