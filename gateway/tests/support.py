"""Keys, settings and assertions the gateway tests share."""

from __future__ import annotations

import hashlib
import socket
from dataclasses import dataclass
from typing import Any

import grpc
import httpx

from crm.customer.v1 import customer_pb2_grpc
from crm_common.grpc_client import channel_as
from crm_common.identity import service_principal
from gateway.core.config import ApiKey, GatewaySettings, Role
from gateway.tests.doubles import ASSIGNEE_ID, IntegrationDouble, LeadDouble, ReportingDouble

# One key per role a person or system may hold (the service role is for services' own tokens).
KEYS = {role: f"test-key-{role.value}-0123456789abcdef" for role in Role if role is not Role.SERVICE}
ADDRESS_FIELDS = ("lead", "customer_master", "pipeline", "notification", "integration_gateway", "reporting")


@dataclass
class Doubles:
    """The doubles whose calls tests inspect, and the address all of them answer on."""

    lead: LeadDouble
    integration: IntegrationDouble
    reporting: ReportingDouble
    address: str


def auth(role: Role | str) -> dict[str, str]:
    """Authorization header of the test key with that role."""
    return {"Authorization": f"Bearer {KEYS[Role(role)]}"}


def api_keys() -> list[ApiKey]:
    return [
        ApiKey(
            key_sha256=hashlib.sha256(key.encode()).hexdigest(),
            role=role,
            rep_id=ASSIGNEE_ID if role is Role.SALES_REP else None,
            name=f"test {role.value}",
        )
        for role, key in KEYS.items()
    ]


def settings_for(addresses: dict[str, str], **overrides: Any) -> GatewaySettings:
    fields = {f"{name}_addr": addresses[name] for name in ADDRESS_FIELDS}
    return GatewaySettings(environment="test", api_keys=api_keys(), **fields, **overrides)


_LEAD_CHANNELS: dict[str, grpc.aio.Channel] = {}


def lead_service_stub(client: httpx.AsyncClient) -> customer_pb2_grpc.CustomerServiceStub:
    """The edge's customer master as the lead service calls it (ResolveCustomer), with the lead's identity."""
    address = client._transport.app.state.settings.customer_master_addr  # type: ignore[attr-defined]
    if address not in _LEAD_CHANNELS:
        _LEAD_CHANNELS[address] = channel_as(address, service_principal("lead"))
    return customer_pb2_grpc.CustomerServiceStub(_LEAD_CHANNELS[address])


def closed_port() -> int:
    """A local port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])



def assert_problem(response: httpx.Response, status: int, *fields: str) -> dict[str, Any]:
    """The response is problem+json with that status and names exactly those fields (when given)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert {"type", "title", "status", "detail", "instance", "errors"} <= body.keys()
    assert body["status"] == status
    if fields:
        assert sorted({e["field"] for e in body["errors"]}) == sorted(fields), body["errors"]
    return body
