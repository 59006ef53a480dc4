"""Lead service settings."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, field_validator

from crm_common.settings import ServiceSettings
from lead.domain import DEFAULT_REGIONS, region_problems


class LeadSettings(ServiceSettings):
    """Settings of the lead service (env prefix CRM_)."""

    default_region: str = Field(default="CN", description="Region assumed for phone numbers without a country code")
    resolve_timeout_seconds: float = Field(default=3.0, gt=0, description="Deadline of the customer-master call")
    sweep_interval_seconds: float = Field(
        default=5.0, gt=0, description="How often unassigned or unresolved leads are retried"
    )

    claim_window_minutes: float = Field(default=120, gt=0, description="Working minutes an assignee has to claim")
    first_contact_sla_hours: float = Field(default=24, gt=0, description="Capture to first contact, wall-clock hours")
    pool_after_days: float = Field(default=7, gt=0, description="Days without follow-up before a lead goes to the pool")
    pool_warning_days: float = Field(default=1, ge=0, description="How long before the pool return the rep is warned")
    pool_cooldown_days: float = Field(default=3, ge=0, description="Before a rep may re-claim a lead they lost")
    clock_interval_seconds: float = Field(default=5.0, gt=0, description="How often lead clocks and gauges run")
    duplicate_window_hours: float = Field(
        default=24, ge=0, description="A repeat with the same phone or email and channel within it is a touch"
    )
    max_stored_touches: int = Field(
        default=20, ge=0, description="Repeats stored on a lead (and its timeline); beyond it they are only counted"
    )
    channel_weights: dict[str, float] = Field(
        default={
            "web_form": 1.8,
            "wechat_miniprogram": 1.2,
            "wecom": 1.2,
            "exhibition_qr": 1.5,
            "whitepaper": 1.0,
            "phone_in": 2.0,
            "api": 1.0,
        },
        description="Score weight per source channel (JSON)",
    )
    default_channel_weight: float = Field(default=1.0, ge=0)
    blocked_email_domains: list[str] = Field(
        default=["mailinator.com", "guerrillamail.com", "10minutemail.com", "yopmail.com"],
        description="Submissions from these domains are quarantined (JSON list)",
    )
    blocked_phones: list[str] = Field(default=[], description="E.164 numbers whose submissions are quarantined")
    regions: dict[str, list[str]] = Field(
        default={name: list(provinces) for name, provinces in DEFAULT_REGIONS.items()},
        description="Sales regions routing rules may name, each a list of provinces (JSON; default the seven "
        "geographic regions)",
    )

    @field_validator("regions")
    @classmethod
    def _regions_are_consistent(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        problems = region_problems(value)
        if problems:
            raise ValueError("; ".join(problems))
        return value


@lru_cache
def get_settings() -> LeadSettings:
    return LeadSettings()
