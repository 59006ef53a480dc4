"""Integration gateway settings: the shared ones plus how webhooks are handed to the lead service."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field

from crm_common.settings import ServiceSettings


class IntegrationSettings(ServiceSettings):
    """Configuration of the integration gateway process."""

    lead_capture_timeout_seconds: float = Field(default=5.0, gt=0, description="Deadline of CaptureLead calls")
    # Longer than the capture deadline, so the retry job never races a call still in flight.
    webhook_retry_after_seconds: float = Field(default=10.0, ge=0, description="Age of a stalled receipt to retry")
    webhook_retry_interval_seconds: float = Field(default=5.0, gt=0, description="Pause between retry rounds")
    webhook_retry_batch: int = Field(default=20, ge=1, description="Receipts retried per round")
    metric_webhook_sources: list[str] = Field(
        default=[], description="Sources counted by name in crm_webhooks_received_total (JSON list); others: other"
    )


@lru_cache
def get_settings() -> IntegrationSettings:
    """The process's settings, read once from the environment."""
    return IntegrationSettings()
