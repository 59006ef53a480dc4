"""reporting's settings: the shared ones, from a cached get_settings()."""

from __future__ import annotations

from functools import lru_cache

from crm_common.settings import ServiceSettings


class ReportingSettings(ServiceSettings):
    """Configuration of the reporting process."""


@lru_cache
def get_settings() -> ReportingSettings:
    """The process's settings, read from the environment once."""
    return ReportingSettings()
