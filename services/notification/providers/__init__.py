"""Adapters of the third-party channels (WeCom, DingTalk, SMS, e-mail, signed webhooks), by kind."""

from __future__ import annotations

import httpx

from crm_common.egress import EgressGuard, OutboundSettings
from crm_common.errors import FieldViolation
from crm_common.secret_refs import SecretResolver
from notification.providers.base import ChannelConfig, ProviderAdapter
from notification.providers.dingtalk import DingTalkRobotAdapter
from notification.providers.sms import SmsAdapter
from notification.providers.smtp import SmtpAdapter, smtp_problems
from notification.providers.tokens import TokenStore
from notification.providers.webhook import WebhookAdapter
from notification.providers.wecom import WeComAppAdapter, WeComRobotAdapter

IN_APP = "in_app"
KINDS: dict[str, type[ProviderAdapter]] = {
    adapter.kind: adapter
    for adapter in (WeComAppAdapter, WeComRobotAdapter, DingTalkRobotAdapter, SmsAdapter, SmtpAdapter, WebhookAdapter)
}


def build_adapter(
    config: ChannelConfig, *, http: httpx.AsyncClient, tokens: TokenStore, guard: EgressGuard, secrets: SecretResolver
) -> ProviderAdapter:
    """The adapter of a configured channel."""
    return KINDS[config.kind](config, http=http, tokens=tokens, guard=guard, secrets=secrets)


async def validate_channel(config: ChannelConfig, *, outbound: OutboundSettings) -> list[FieldViolation]:
    """What is wrong with a channel's configuration, field by field (its destinations checked by the egress guard)."""
    problems: list[FieldViolation] = []
    name = config.name.strip()
    if not name or name == IN_APP or not name.replace("_", "").replace("-", "").isalnum() or len(name) > 64:
        problems.append(FieldViolation("name", "required: letters, digits, '-' and '_' (and not 'in_app')"))
    adapter = KINDS.get(config.kind)
    if adapter is None:
        problems.append(FieldViolation("kind", f"one of {sorted(KINDS)}"))
        return problems
    for key in adapter.required_settings:
        if not str(config.settings.get(key, "")).strip():
            problems.append(FieldViolation(f"settings.{key}", f"required for {config.kind}"))
    for key in adapter.required_secrets:
        if key not in config.secret_refs:
            problems.append(FieldViolation(f"secret_refs.{key}", f"required for {config.kind}"))
    secrets, guard = outbound.secret_resolver(), outbound.egress_guard()
    for key, ref in config.secret_refs.items():
        # Never echo the value: it may be the secret itself, pasted by mistake.
        refused = secrets.problem(ref)
        if refused:
            problems.append(FieldViolation(f"secret_refs.{key}", refused))
    for key in adapter.url_settings:
        url = str(config.settings.get(key, "")).strip()
        refused = await guard.url_problem(url) if url else None
        if refused:
            problems.append(FieldViolation(f"settings.{key}", refused))
    if adapter.host_setting:
        host = str(config.settings.get(adapter.host_setting, "")).strip()
        refused = await guard.host_problem(host) if host else None
        if refused:
            problems.append(FieldViolation(f"settings.{adapter.host_setting}", refused))
    if adapter is SmtpAdapter:
        problems += smtp_problems(config)
    if config.rate_limit_per_minute < 0:
        problems.append(FieldViolation("rate_limit_per_minute", "must be 0 (none) or positive"))
    return problems
