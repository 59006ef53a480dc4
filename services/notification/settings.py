"""Notification settings: the shared ones plus the channel each kind of notification goes through."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field

from crm_common.settings import ServiceSettings


class NotificationSettings(ServiceSettings):
    """Configuration of the notification process."""

    lead_assigned_channel: str = Field(default="in_app", description="Channel that tells an assignee of a new lead")


@lru_cache
def get_settings() -> NotificationSettings:
    """The process's settings, read once from the environment."""
    return NotificationSettings()
