"""reporting's settings: the shared ones, from a cached get_settings()."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field

from crm_common.settings import ServiceSettings


class ReportingSettings(ServiceSettings):
    """Configuration of the reporting process."""

    # Dates in reports (from/to, "today", "this month") are days of this zone.
    report_time_zone: str = "Asia/Shanghai"
    # Every report query's budget (PostgreSQL statement_timeout); over it, the last good answer, marked stale.
    report_statement_timeout_ms: int = Field(default=2000, ge=10)
    # What a client is told to wait before asking again for a report that has never succeeded.
    report_retry_after_seconds: int = Field(default=5, ge=1)


@lru_cache
def get_settings() -> ReportingSettings:
    """The process's settings, read from the environment once."""
    return ReportingSettings()
