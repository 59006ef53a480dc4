"""DingTalk custom robot (自定义机器人) with signed webhooks: POST /robot/send?access_token&timestamp&sign."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import ClassVar

from notification.channels import DeliveryFailed, DeliveryReport
from notification.providers.base import (
    ProviderAdapter,
    ProviderMessage,
    body_json,
    http_status_failure,
    post_json,
)

DEFAULT_BASE_URL = "https://oapi.dingtalk.com"
# 130101 sending too fast (20 a minute per robot); -1 system busy.
TRANSIENT_ERRORS = {-1, 130101}
# 300001 token invalid, 310000 signature / keyword / IP check failed, 300005 token not found.
CHANNEL_ERRORS = {300001, 300005, 310000}


def sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's signature: base64(HMAC-SHA256(secret, "<timestamp>\\n<secret>"))."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class DingTalkRobotAdapter(ProviderAdapter):
    """Posts to a DingTalk group through its robot, @-mentioning the person by mobile."""

    kind = "dingtalk_robot"
    shared_destination = True
    default_rate_limit = 20
    required_secrets: ClassVar[tuple[str, ...]] = ("access_token", "sign_secret")

    async def send(self, message: ProviderMessage) -> DeliveryReport:
        base = self.setting("base_url", DEFAULT_BASE_URL).rstrip("/")
        timestamp = int(time.time() * 1000)
        mobile = message.recipient.dingtalk_mobile or message.recipient.mobile
        payload = {
            "msgtype": "text",
            "text": {"content": f"{message.title}\n{message.body}"},
            "at": {"atMobiles": [mobile] if mobile else [], "isAtAll": False},
        }
        params = {
            "access_token": self.secret("access_token"),
            "timestamp": str(timestamp),
            "sign": sign(self.secret("sign_secret"), timestamp),
        }
        response = await post_json(self.http, f"{base}/robot/send", payload, params=params)
        failure = http_status_failure(response)
        if failure:
            raise failure
        data = body_json(response)
        code = int(data.get("errcode", -1))
        if code == 0:
            return DeliveryReport(status="delivered", detail="posted to the group")
        reason = f"robot/send: errcode {code} {self.quote(data.get('errmsg', ''))}"
        if code in TRANSIENT_ERRORS:
            raise DeliveryFailed(reason, permanent=False, retry_after=60.0 if code == 130101 else None)
        raise DeliveryFailed(reason, permanent=True, channel_down=code in CHANNEL_ERRORS)
