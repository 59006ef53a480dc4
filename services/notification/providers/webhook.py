"""Generic signed outbound webhook: JSON POST, HMAC-SHA256 signature, Idempotency-Key the receiver dedupes on."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import ClassVar

from notification.channels import DeliveryFailed, DeliveryReport
from notification.providers.base import (
    ProbeResult,
    ProviderAdapter,
    ProviderMessage,
    call,
    http_status_failure,
    post_json,
)


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`, sent as X-Crm-Signature."""
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


class WebhookAdapter(ProviderAdapter):
    """POSTs each notification to a partner system's URL."""

    kind = "webhook"
    # The webhook contract: receivers drop a repeated Idempotency-Key.
    dedupes = True
    required_settings: ClassVar[tuple[str, ...]] = ("url",)
    required_secrets: ClassVar[tuple[str, ...]] = ("signing_secret",)
    url_settings: ClassVar[tuple[str, ...]] = ("url", "probe_url")

    @property
    def dependency(self) -> str:
        return f"webhook:{self.name}"

    async def send(self, message: ProviderMessage) -> DeliveryReport:
        body = json.dumps(
            {
                "id": message.send_key,
                "notification_ids": list(message.notification_ids),
                "recipient_id": message.recipient.recipient_id,
                "title": message.title,
                "body": message.body,
            },
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": message.send_key,
            "X-Crm-Timestamp": timestamp,
            "X-Crm-Signature": signature(self.secret("signing_secret"), timestamp, body),
        }
        response = await post_json(self.http, self.setting("url"), None, content=body, headers=headers)
        failure = http_status_failure(response)
        if failure:
            raise failure
        return DeliveryReport(status="delivered", detail=f"HTTP {response.status_code}")

    async def probe(self) -> ProbeResult:
        url = self.setting("probe_url")
        if not url:
            return await super().probe()
        try:
            response = await call(self.http, "GET", url)
        except DeliveryFailed as err:
            return ProbeResult(up=False, detail=err.reason)
        except Exception as err:
            return ProbeResult(up=False, detail=f"probe failed: {type(err).__name__}")
        return ProbeResult(up=response.status_code < 500, detail=f"probe HTTP {response.status_code}")
