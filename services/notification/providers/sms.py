"""SMS through a provider's HTTP API (JSON, bearer API key, Aliyun-style result codes in HTTP 200 bodies).

POST {base_url}/v1/sms/send {"phone","sign_name","text","out_id"} → {"Code": "OK", "BizId": ...};
GET {base_url}/v1/account → {"Code": "OK", "Balance": ...}. The provider drops a repeated `out_id`
(our send key) for 24 hours, so resending after an unanswered call cannot text the person twice.
"""

from __future__ import annotations

from typing import ClassVar

from notification.channels import DeliveryFailed, DeliveryReport
from notification.providers.base import (
    ProbeResult,
    ProviderAdapter,
    ProviderMessage,
    RecipientAddress,
    body_json,
    call,
    http_status_failure,
    post_json,
    require,
)

TRANSIENT_CODES = {"isp.SYSTEM_ERROR", "isv.BUSINESS_LIMIT_CONTROL", "Throttling.User"}
CHANNEL_CODES = {"InvalidAccessKeyId.NotFound", "isv.ACCOUNT_ABNORMAL", "isv.AMOUNT_NOT_ENOUGH", "isv.SMS_SIGNATURE_ILLEGAL"}
MAX_TEXT = 300


class SmsAdapter(ProviderAdapter):
    """A text message to the recipient's mobile."""

    kind = "sms"
    dedupes = True
    success_status = "sent"
    required_settings: ClassVar[tuple[str, ...]] = ("base_url",)
    required_secrets: ClassVar[tuple[str, ...]] = ("api_key",)

    def target(self, recipient: RecipientAddress) -> str:
        return require(recipient.mobile, "mobile number")

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secret('api_key')}"}

    async def send(self, message: ProviderMessage) -> DeliveryReport:
        payload = {
            "phone": self.target(message.recipient),
            "sign_name": self.setting("sign_name", "CRM"),
            "text": f"{message.title}: {message.body}"[:MAX_TEXT],
            "out_id": message.send_key,
        }
        url = f"{self.setting('base_url').rstrip('/')}/v1/sms/send"
        response = await post_json(self.http, url, payload, headers=self._headers())
        failure = http_status_failure(response)
        if failure:
            raise failure
        data = body_json(response)
        code = str(data.get("Code", ""))
        if code == "OK":
            return DeliveryReport(status="sent", detail=f"BizId {data.get('BizId', '')}")
        reason = f"sms: {self.quote_code(code)} {self.quote(data.get('Message', ''))}"
        if code in TRANSIENT_CODES:
            raise DeliveryFailed(reason, permanent=False, retry_after=60.0 if code != "isp.SYSTEM_ERROR" else None)
        raise DeliveryFailed(reason, permanent=True, channel_down=code in CHANNEL_CODES)

    async def probe(self) -> ProbeResult:
        try:
            response = await call(self.http, "GET", f"{self.setting('base_url').rstrip('/')}/v1/account", headers=self._headers())
            failure = http_status_failure(response)
            if failure:
                return ProbeResult(up=False, detail=failure.reason)
            data = body_json(response)
        except DeliveryFailed as err:
            return ProbeResult(up=False, detail=err.reason)
        except Exception as err:
            return ProbeResult(up=False, detail=f"probe failed: {type(err).__name__}")
        if data.get("Code") != "OK":
            return ProbeResult(up=False, detail=f"account: {self.quote_code(data.get('Code'))}")
        return ProbeResult(up=True, detail=f"balance {self.quote_code(data.get('Balance', '?'))}")
