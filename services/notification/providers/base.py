"""What every provider adapter is: one channel's settings, its referenced secrets, a send and a probe."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar

import httpx

from crm_common.egress import EgressGuard, EgressRefused
from crm_common.secret_refs import SecretResolver, SecretUnavailable
from notification.channels import DeliveryFailed, DeliveryReport
from notification.providers.tokens import TokenStore

# What may be quoted from a provider's answer: words, numbers and plain punctuation (no markup, no JSON).
SAFE_CHARS = re.compile(r"[^\w .,:;'()#/+-]")
MARKUP = re.compile(r"[<>{}\[\]\"=\\]")
CODE = re.compile(r"[\w.-]{1,40}")


@dataclass(frozen=True)
class RecipientAddress:
    """Where one person is reached on each kind of channel."""

    recipient_id: str
    name: str = ""
    wecom_user_id: str = ""
    mobile: str = ""
    email: str = ""
    dingtalk_mobile: str = ""


@dataclass(frozen=True)
class ProviderMessage:
    """One call to a provider: a single notification, or a digest of several for one target."""

    send_key: str
    recipient: RecipientAddress
    title: str
    body: str
    notification_ids: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class ProbeResult:
    """What a probe learnt: whether the provider answers, and the token's expiry if it has one."""

    up: bool
    detail: str
    token_expires_at: datetime | None = None
    # False when the channel has no cheap call: its health then follows its sends.
    checked: bool = True


@dataclass(frozen=True)
class ChannelConfig:
    """A configured channel as the adapters see it."""

    name: str
    kind: str
    settings: Mapping[str, str]
    secret_refs: Mapping[str, str]
    rate_limit_per_minute: int = 0


class ProviderAdapter(ABC):
    """A channel that calls a third-party provider (outside any database transaction)."""

    kind: ClassVar[str]
    # Whether the provider drops a repeat of the same send key: then resending an uncertain send is safe.
    dedupes: ClassVar[bool] = False
    # The status a successful call means: "delivered" (the person has it) or "sent" (handed to a carrier).
    success_status: ClassVar[str] = "delivered"
    required_settings: ClassVar[tuple[str, ...]] = ()
    required_secrets: ClassVar[tuple[str, ...]] = ()
    # Shared destinations (group robots) merge a rate-limit overflow into one digest for everyone.
    shared_destination: ClassVar[bool] = False
    default_rate_limit: ClassVar[int] = 0
    # Settings holding a URL the channel calls, and the one holding a bare host: the guard checks them at save.
    url_settings: ClassVar[tuple[str, ...]] = ("base_url",)
    host_setting: ClassVar[str] = ""

    def __init__(
        self,
        config: ChannelConfig,
        *,
        http: httpx.AsyncClient,
        tokens: TokenStore,
        guard: EgressGuard,
        secrets: SecretResolver,
    ) -> None:
        self.config = config
        self.name = config.name
        self.http = http
        self.tokens = tokens
        self.guard = guard
        self.secrets = secrets

    @property
    def dependency(self) -> str:
        """The `crm_dependency_up{dependency}` label of the provider behind this channel."""
        return self.kind.split("_")[0]

    def setting(self, key: str, default: str = "") -> str:
        return str(self.config.settings.get(key, default) or default)

    def secret(self, key: str) -> str:
        """A referenced secret, read now; a missing one fails the channel, not just the message."""
        ref = self.config.secret_refs.get(key, "")
        if not ref:
            raise DeliveryFailed(f"no reference for secret {key!r}", permanent=True, channel_down=True)
        try:
            return self.secrets.read(ref)
        except SecretUnavailable as err:
            raise DeliveryFailed(str(err), permanent=True, channel_down=True) from None

    def _secret_values(self) -> list[str]:
        values = []
        for ref in self.config.secret_refs.values():
            try:
                value = self.secrets.read(ref)
            except SecretUnavailable:
                continue
            if len(value) >= 4:
                values.append(value)
        return values

    def _hide(self, text: str) -> str:
        for value in self._secret_values():
            text = text.replace(value, "(hidden)")
        return text

    def scrub(self, text: str, limit: int = 300) -> str:
        """A status text fit for every reader: bounded, one line, with none of this channel's secrets in it."""
        text = " ".join(self._hide(text).split())
        return text if len(text) <= limit else text[: limit - 1] + "…"

    def quote(self, value: object, limit: int = 60) -> str:
        """A provider's message as we may repeat it: secrets hidden before it is cut, plain words only, short."""
        return provider_text(self._hide(str(value)), limit)

    def quote_code(self, value: object) -> str:
        """A provider's error code as we may repeat it (secrets hidden before it is cut)."""
        return provider_code(self._hide(str(value)))

    def target(self, recipient: RecipientAddress) -> str:
        """The address this channel reaches the recipient at; DeliveryFailed when the recipient has none."""
        return self.name if self.shared_destination else recipient.recipient_id

    @abstractmethod
    async def send(self, message: ProviderMessage) -> DeliveryReport:
        """Call the provider once (plus one immediate retry after a token refresh) or raise DeliveryFailed."""

    async def probe(self) -> ProbeResult:
        """A cheap call that shows the provider answers; channels without one are judged by their sends."""
        return ProbeResult(up=True, detail="no probe call; judged by recent sends", checked=False)


def require(value: str, what: str) -> str:
    """A recipient address the channel needs, or a permanent failure naming what is missing."""
    if not value:
        raise DeliveryFailed(f"recipient has no {what}", permanent=True)
    return value


def provider_text(value: object, limit: int = 60) -> str:
    """A provider's message as we may repeat it: plain words only, short; markup or JSON is withheld whole."""
    raw = str(value)
    if MARKUP.search(raw):
        return "(message withheld: not plain text)"
    text = " ".join(SAFE_CHARS.sub(" ", raw).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def provider_code(value: object) -> str:
    """A provider's error code as we may repeat it: a token of letters, digits, '.', '_' and '-', else withheld."""
    code = str(value)
    return code if CODE.fullmatch(code) else "(unrecognised code)"


async def post_json(http: httpx.AsyncClient, url: str, payload: object, **kwargs: object) -> httpx.Response:
    """POST JSON through `call`."""
    return await call(http, "POST", url, json=payload, **kwargs)


async def call(http: httpx.AsyncClient, method: str, url: str, **kwargs: object) -> httpx.Response:
    """One request, turning transport errors into DeliveryFailed: before sending is safe to retry, after is uncertain."""
    try:
        return await http.request(method, url, **kwargs)  # type: ignore[arg-type]
    except EgressRefused as err:
        # Nothing was sent; the channel's destination is where it may not go, which no retry changes.
        raise DeliveryFailed(f"destination refused: {err}", permanent=True, channel_down=True) from None
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as err:
        raise DeliveryFailed(f"provider unreachable: {type(err).__name__}", permanent=False, channel_down=True) from None
    except httpx.TransportError as err:
        raise DeliveryFailed(
            f"no answer from provider: {type(err).__name__}", permanent=False, uncertain=True, channel_down=True
        ) from None


def http_status_failure(response: httpx.Response) -> DeliveryFailed | None:
    """The failure an HTTP status means, or None for 2xx."""
    if response.is_success:
        return None
    retry_after = _retry_after(response)
    if response.status_code == 429:
        return DeliveryFailed("rate limited (HTTP 429)", permanent=False, retry_after=retry_after)
    if response.status_code >= 500 or response.status_code == 408:
        return DeliveryFailed(f"provider error HTTP {response.status_code}", permanent=False, retry_after=retry_after, channel_down=True)
    return DeliveryFailed(f"rejected with HTTP {response.status_code}", permanent=True)


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return float(response.headers.get("Retry-After", ""))
    except ValueError:
        return None


def body_json(response: httpx.Response) -> dict:
    """The JSON object of a provider answer; a garbled body is a transient provider fault."""
    try:
        data = response.json()
    except ValueError:
        raise DeliveryFailed("provider answered with a body that is not JSON", permanent=False, uncertain=True) from None
    if not isinstance(data, dict):
        raise DeliveryFailed("provider answered with an unexpected JSON body", permanent=False, uncertain=True)
    return data
