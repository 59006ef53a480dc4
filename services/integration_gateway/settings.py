"""Integration gateway settings: the shared ones plus how webhooks are handed to the lead service."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field

from crm_common.egress import OutboundSettings
from crm_common.settings import ServiceSettings

# 0 s, 5 s, 5 min, 30 min, 2 h, 5 h, then 10 h seven times: about 3.2 days before a delivery is a dead letter.
DEFAULT_RETRY_SCHEDULE = [0.0, 5.0, 300.0, 1800.0, 7200.0, 18000.0] + [36000.0] * 7


class IntegrationSettings(ServiceSettings, OutboundSettings):
    """Configuration of the integration gateway process (with CRM_OUTBOUND_ALLOWED_NETWORKS)."""

    lead_capture_timeout_seconds: float = Field(default=5.0, gt=0, description="Deadline of CaptureLead calls")
    # Longer than the capture deadline, so the retry job never races a call still in flight.
    webhook_retry_after_seconds: float = Field(default=10.0, ge=0, description="Age of a stalled receipt to retry")
    webhook_retry_interval_seconds: float = Field(default=5.0, gt=0, description="Pause between retry rounds")
    webhook_retry_batch: int = Field(default=20, ge=1, description="Receipts retried per round")
    metric_webhook_sources: list[str] = Field(
        default=[], description="Sources counted by name in crm_webhooks_received_total (JSON list); others: other"
    )
    delivery_retry_schedule_seconds: list[float] = Field(
        default=DEFAULT_RETRY_SCHEDULE, min_length=1,
        description="Delay before each attempt of an outbound delivery (JSON list; its length is the attempts)",
    )
    delivery_timeout_seconds: float = Field(default=10.0, gt=0, description="Deadline of one outbound delivery")
    delivery_batch: int = Field(default=500, ge=1, description="Deliveries claimed per round (keys sent concurrently)")
    delivery_poll_seconds: float = Field(default=1.0, gt=0, description="Idle poll for deliveries coming due")
    delivery_max_retry_after_seconds: float = Field(
        default=86400.0, gt=0, description="Longest Retry-After of a receiver that is honoured as given"
    )
    secret_overlap_seconds: int = Field(default=86400, ge=0, description="Old secret signs beside the new one")
    dependency_probe_interval_seconds: float = Field(default=5.0, gt=0, description="Pause between probe rounds")
    dependency_probe_timeout_seconds: float = Field(default=3.0, gt=0, description="Deadline of one probe")


@lru_cache
def get_settings() -> IntegrationSettings:
    """The process's settings, read once from the environment."""
    return IntegrationSettings()
