"""Keys, settings and assertions the gateway tests share."""

from __future__ import annotations

import hashlib
import socket
from dataclasses import dataclass
from typing import Any

import httpx

from gateway.core.config import ApiKey, GatewaySettings, Role
from gateway.tests.doubles import ASSIGNEE_ID, IntegrationDouble, LeadDouble, ReportingDouble

KEYS = {role: f"test-key-{role.value}-0123456789abcdef" for role in Role}
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
