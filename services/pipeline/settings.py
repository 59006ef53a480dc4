"""pipeline's settings: the shared ones, from a cached get_settings()."""

from __future__ import annotations

from functools import lru_cache

from crm_common.settings import ServiceSettings


class PipelineSettings(ServiceSettings):
    """Configuration of the pipeline process."""

    # Largest evidence document accepted (CRM_MAX_FILE_BYTES); the edge's file route has its own, equal limit.
    max_file_bytes: int = 20 * 1024 * 1024
    # Longest the stall worker sleeps between looks at the due index (a due time set meanwhile wakes it earlier).
    stall_poll_seconds: float = 1.0


@lru_cache
def get_settings() -> PipelineSettings:
    """The process's settings, read from the environment once."""
    return PipelineSettings()
