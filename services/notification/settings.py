"""Notification settings: the shared ones plus the channel each kind of notification goes through."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field

from crm_common.egress import OutboundSettings
from crm_common.settings import ServiceSettings


class NotificationSettings(ServiceSettings, OutboundSettings):
    """Configuration of the notification process (with CRM_OUTBOUND_ALLOWED_NETWORKS and CRM_SECRETS_DIR)."""

    lead_assigned_channel: str = Field(
        default="in_app", description="Channel for recipients without a profile or fallback chain (the in-app inbox)"
    )
    pipeline_override_approvers: str = Field(
        default="", description="Admins asked to approve a pipeline override, comma-separated (never its requester)"
    )
    # After a batch that was not full, a consumer lets events gather this long before taking the next, so that at
    # moderate rates one transaction, one commit and one relay pass serve several notifications instead of one
    # each: at 50 leads/s, 0.05 s cuts this service's CPU per lead by ~40% (and the lead's consumer of
    # crm.notification.delivered gets batches too). An event after a quiet spell is still applied at once, but
    # one in a steady stream waits up to this long, which the capture→notified latency target (p99 < 50 ms)
    # cannot spare: off by default, for deployments that would rather save the CPU.
    consumer_linger_seconds: float = Field(
        default=0.0, ge=0, le=1, description="Pause after a partial batch, so the next one gathers more events"
    )
    dispatch_interval_seconds: float = Field(default=0.1, gt=0, description="Idle poll of the delivery queue")
    # Queued work wakes the dispatcher, so an idle poll only finds retries and held messages coming due:
    # it slows down, doubling from dispatch_interval_seconds up to this, until something happens.
    dispatch_idle_max_seconds: float = Field(default=1.0, gt=0, description="Slowest idle poll of the delivery queue")
    dispatch_batch: int = Field(default=200, ge=1, description="Deliveries one dispatcher pass takes")
    send_concurrency: int = Field(default=32, ge=1, description="Provider calls in flight per process")
    provider_timeout_seconds: float = Field(default=10.0, gt=0, description="Deadline of one provider call")
    # Longer than the slowest send (token refresh + retry); after it the reconciler settles the send.
    send_lease_seconds: float = Field(default=60.0, gt=0)
    reconcile_interval_seconds: float = Field(default=5.0, gt=0)
    max_attempts_per_channel: int = Field(default=6, ge=1, description="Tries on one channel before the next one")
    retry_base_seconds: float = Field(default=2.0, gt=0)
    retry_cap_seconds: float = Field(default=300.0, gt=0)
    retry_jitter: float = Field(default=0.5, ge=0, le=1)
    probe_interval_seconds: float = Field(default=5.0, gt=0, description="Channel health probe period")
    token_refresh_margin_seconds: float = Field(default=300.0, ge=0, description="Refresh tokens this long before expiry")
    failure_window_seconds: float = Field(default=300.0, gt=0, description="Window of the recent failure rate")


@lru_cache
def get_settings() -> NotificationSettings:
    """The process's settings, read once from the environment."""
    return NotificationSettings()
