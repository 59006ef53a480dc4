"""pipeline's settings: the shared ones, from a cached get_settings()."""

from __future__ import annotations

from functools import lru_cache

from crm_common.settings import ServiceSettings


class PipelineSettings(ServiceSettings):
    """Configuration of the pipeline process."""


@lru_cache
def get_settings() -> PipelineSettings:
    """The process's settings, read from the environment once."""
    return PipelineSettings()
