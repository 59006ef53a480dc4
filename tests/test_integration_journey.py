"""Issue 16 across the whole stack: a partner's signed webhook becomes a lead, and a subscriber hears of it, signed."""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook

from tools.devstack import Stack

SECRET = "whsec_" + base64.b64encode(b"journey-partner-secret-bytes-32b").decode()


class Endpoint:
    """A subscriber's endpoint on loopback: records what arrives, answers 503 (Retry-After) while `down`."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes, int]] = []
        self.down = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                status = 503 if outer.down > 0 else 200
                outer.down -= 1
                outer.received.append(({k.lower(): v for k, v in self.headers.items()}, body, status))
                self.send_response(status)
                if status == 503:
                    self.send_header("Retry-After", "1")
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/crm-events"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def api(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.info["gateway_url"], timeout=15) as client:
        yield client


@pytest.fixture(scope="module")
def endpoint() -> Iterator[Endpoint]:
    e = Endpoint()
    yield e
    e.server.shutdown()


def _until(check: Any, within: float = 60.0) -> Any:
    """Poll until check() returns something truthy (a bound against hanging, not a timing assertion)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError("not reached")


def test_signed_partner_lead_reaches_a_subscriber_once_signed_after_an_outage(
    api: httpx.Client, stack: Stack, endpoint: Endpoint
) -> None:
    admin = {"Authorization": f"Bearer {stack.api_key}"}
    system = {"Authorization": f"Bearer {stack.role_keys['system']}"}
    subscription = api.post("/v1/subscriptions", json={"url": endpoint.url, "events": ["lead.*"]}, headers=system)
    assert subscription.status_code == 201, subscription.text
    refused = api.post("/v1/subscriptions", json={"url": "http://169.254.169.254/x", "events": ["lead.*"]}, headers=system)
    assert refused.status_code == 422 and [e["field"] for e in refused.json()["errors"]] == ["url"]
    source = f"partner-{uuid.uuid4().hex[:8]}"
    configured = api.put(
        f"/v1/integrations/sources/{source}",
        json={"secret": SECRET, "mapping": {"phone": "contact.mobile", "name": "contact.name"}}, headers=admin,
    )
    assert configured.status_code == 200, configured.text

    # The subscriber is down for its first delivery; the partner signs and sends no API key.
    endpoint.down = 1
    body = json.dumps({"contact": {"name": "韩梅梅", "mobile": f"139{uuid.uuid4().int % 10**8:08d}"}}).encode()
    now = datetime.now(UTC)
    headers = {
        "content-type": "application/json", "webhook-id": f"msg_{uuid.uuid4().hex}",
        "webhook-timestamp": str(int(now.timestamp())),
    }
    headers["webhook-signature"] = Webhook(SECRET).sign(headers["webhook-id"], now, body)
    receipt = api.post(f"/v1/webhooks/{source}", content=body, headers=headers)
    assert receipt.status_code == 201, receipt.text
    lead_id = receipt.json()["lead_id"]
    assert api.post(f"/v1/webhooks/{source}", content=body, headers=headers).json()["id"] == receipt.json()["id"]
    stale = {**headers, "webhook-timestamp": str(int(now.timestamp()) - 400)}
    assert api.post(f"/v1/webhooks/{source}", content=body, headers=stale).status_code == 401

    def assigned() -> list[tuple[dict[str, str], bytes, int]]:
        return [r for r in endpoint.received if r[2] == 200 and json.loads(r[1])["type"] == "lead.assigned"
                and json.loads(r[1])["data"]["lead_id"] == lead_id]

    [(got_headers, got_body, _)] = _until(assigned)
    Webhook(subscription.json()["secret"]).verify(got_body, got_headers)
    event = json.loads(got_body)
    assert got_headers["webhook-id"] == event["id"] and set(event) == {"id", "type", "timestamp", "data"}
    # The outage cost a retry, not a duplicate: every webhook-id got through exactly once.
    ok_ids = [h["webhook-id"] for h, _, status in endpoint.received if status == 200]
    assert len(ok_ids) == len(set(ok_ids)) and any(status == 503 for _, _, status in endpoint.received)
    deliveries = api.get(f"/v1/subscriptions/{subscription.json()['id']}/deliveries", headers=system).json()
    assert any(d["event_id"] == event["id"] and d["status"] == "succeeded" for d in deliveries["deliveries"])
