"""WeCom (企业微信): application messages (corp id + secret → access_token) and group robots (webhook key).

Follows the documented API: GET /cgi-bin/gettoken, POST /cgi-bin/message/send, GET /cgi-bin/get_api_domain_ip,
POST /cgi-bin/webhook/send; errors come as `errcode` inside HTTP 200 answers.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
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
    provider_text,
    require,
)

DEFAULT_BASE_URL = "https://qyapi.weixin.qq.com"
# 40014 invalid access_token, 42001 access_token expired, 41001 access_token missing.
TOKEN_ERRORS = {40014, 42001, 41001}
# -1 system busy, 45009 API frequency over the limit, 45033 too many concurrent calls.
TRANSIENT_ERRORS = {-1, 45009, 45033}
# 40001 invalid secret, 40013 invalid corp id, 40056 invalid agent id, 93000 invalid robot webhook key,
# 48002 API forbidden, 60020 IP not on the trusted list.
CHANNEL_ERRORS = {40001, 40013, 40056, 93000, 48002, 60020}
RATE_LIMIT_WINDOW = 60.0
# WeCom drops a repeat of the same content to the same user within this window (documented, max 4 h).
DUPLICATE_CHECK_SECONDS = 14400


def errcode_failure(data: dict, what: str, quote: Callable[[object], str] = provider_text) -> DeliveryFailed | None:
    """The failure an errcode means (None for 0)."""
    code = int(data.get("errcode", -1))
    if code == 0:
        return None
    reason = f"{what}: errcode {code} {quote(data.get('errmsg', ''))}"
    if code in TRANSIENT_ERRORS:
        return DeliveryFailed(reason, permanent=False, retry_after=RATE_LIMIT_WINDOW if code == 45009 else None)
    if code in TOKEN_ERRORS:
        return DeliveryFailed(reason, permanent=False, channel_down=True)
    return DeliveryFailed(reason, permanent=True, channel_down=code in CHANNEL_ERRORS)


class WeComAppAdapter(ProviderAdapter):
    """A WeCom application message to one member, by WeCom user id."""

    kind = "wecom_app"
    dedupes = True
    required_settings: ClassVar[tuple[str, ...]] = ("corp_id", "agent_id")
    required_secrets: ClassVar[tuple[str, ...]] = ("corp_secret",)

    @property
    def base_url(self) -> str:
        return self.setting("base_url", DEFAULT_BASE_URL).rstrip("/")

    def target(self, recipient: RecipientAddress) -> str:
        return require(recipient.wecom_user_id, "WeCom user id")

    async def _fetch_token(self) -> tuple[str, float]:
        params = {"corpid": self.setting("corp_id"), "corpsecret": self.secret("corp_secret")}
        try:
            response = await call(self.http, "GET", f"{self.base_url}/cgi-bin/gettoken", params=params)
        except DeliveryFailed as err:
            # Asking for a token changes nothing at WeCom: never an uncertain send, whatever the transport did.
            raise DeliveryFailed(f"gettoken: {err.reason}", permanent=err.permanent, channel_down=True) from None
        failure = http_status_failure(response)
        if failure:
            raise failure
        data = body_json(response)
        failure = errcode_failure(data, "gettoken", self.quote)
        if failure:
            raise DeliveryFailed(failure.reason, permanent=failure.permanent, channel_down=True)
        return str(data["access_token"]), float(data.get("expires_in", 7200))

    async def send(self, message: ProviderMessage) -> DeliveryReport:
        token = await self.tokens.get(self.name, self._fetch_token)
        try:
            return await self._send_with(token, message)
        except DeliveryFailed as err:
            if not _token_error(err):
                raise
        # Expired or revoked before our cached expiry: refresh (one worker does) and retry once at once.
        token = await self.tokens.refresh(self.name, self._fetch_token, stale=token)
        return await self._send_with(token, message)

    async def _send_with(self, token: str, message: ProviderMessage) -> DeliveryReport:
        user = self.target(message.recipient)
        payload = {
            "touser": user,
            "msgtype": "text",
            "agentid": int(self.setting("agent_id", "0") or 0),
            # The reference makes the content unique per notification, so WeCom's duplicate check drops
            # only a resend of this very message.
            "text": {"content": f"{message.title}\n{message.body}\n[ref {message.send_key}]"},
            "enable_duplicate_check": 1,
            "duplicate_check_interval": DUPLICATE_CHECK_SECONDS,
        }
        response = await post_json(self.http, f"{self.base_url}/cgi-bin/message/send", payload, params={"access_token": token})
        failure = http_status_failure(response)
        if failure:
            raise failure
        data = body_json(response)
        failure = errcode_failure(data, "message/send", self.quote)
        if failure:
            raise failure
        if user in str(data.get("invaliduser", "")).split("|"):
            raise DeliveryFailed(f"WeCom rejected user {user}: invaliduser", permanent=True)
        return DeliveryReport(status="delivered", detail=f"msgid {data.get('msgid', '')}")

    async def probe(self) -> ProbeResult:
        try:
            token = await self.tokens.get(self.name, self._fetch_token)
            response = await call(self.http, "GET", f"{self.base_url}/cgi-bin/get_api_domain_ip", params={"access_token": token})
            failure = http_status_failure(response) or errcode_failure(body_json(response), "get_api_domain_ip", self.quote)
            if failure and _token_error(failure):
                token = await self.tokens.refresh(self.name, self._fetch_token, stale=token)
                response = await call(self.http, "GET", f"{self.base_url}/cgi-bin/get_api_domain_ip", params={"access_token": token})
                failure = http_status_failure(response) or errcode_failure(body_json(response), "get_api_domain_ip", self.quote)
        except DeliveryFailed as err:
            return ProbeResult(up=False, detail=err.reason, token_expires_at=await self.tokens.expires_at(self.name))
        except Exception as err:
            return ProbeResult(up=False, detail=f"probe failed: {type(err).__name__}")
        expires_at = await self.tokens.expires_at(self.name)
        if failure:
            return ProbeResult(up=False, detail=failure.reason, token_expires_at=expires_at)
        left = (expires_at - datetime.now(UTC)) if expires_at else timedelta(0)
        return ProbeResult(up=True, detail=f"token valid for {int(left.total_seconds())} s", token_expires_at=expires_at)


def _token_error(err: DeliveryFailed) -> bool:
    return any(f"errcode {code} " in err.reason for code in TOKEN_ERRORS)


class WeComRobotAdapter(ProviderAdapter):
    """A WeCom group robot (群机器人): posts to a group chat, mentioning the person by mobile."""

    kind = "wecom_robot"
    shared_destination = True
    default_rate_limit = 20
    required_secrets: ClassVar[tuple[str, ...]] = ("key",)

    async def send(self, message: ProviderMessage) -> DeliveryReport:
        base = self.setting("base_url", DEFAULT_BASE_URL).rstrip("/")
        text: dict[str, object] = {"content": f"{message.title}\n{message.body}"}
        if message.recipient.mobile:
            text["mentioned_mobile_list"] = [message.recipient.mobile]
        response = await post_json(
            self.http, f"{base}/cgi-bin/webhook/send", {"msgtype": "text", "text": text}, params={"key": self.secret("key")}
        )
        failure = http_status_failure(response) or errcode_failure(body_json(response), "webhook/send", self.quote)
        if failure:
            raise failure
        return DeliveryReport(status="delivered", detail="posted to the group")
