"""Lead service settings."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field

from crm_common.settings import ServiceSettings


class LeadSettings(ServiceSettings):
    """Settings of the lead service (env prefix CRM_)."""

    default_region: str = Field(default="CN", description="Region assumed for phone numbers without a country code")
    resolve_timeout_seconds: float = Field(default=3.0, gt=0, description="Deadline of the customer-master call")
    sweep_interval_seconds: float = Field(
        default=5.0, gt=0, description="How often unassigned or unresolved leads are retried"
    )


@lru_cache
def get_settings() -> LeadSettings:
    return LeadSettings()
