"""customer-master's settings: the shared ones, from a cached get_settings()."""

from __future__ import annotations

from functools import lru_cache

from crm_common.settings import ServiceSettings


class CustomerMasterSettings(ServiceSettings):
    """Configuration of the customer-master process."""

    # The role that owns the golden fields (CRM_GOLDEN_FIELD_OWNER_ROLE) and which fields are golden.
    golden_field_owner_role: str = "customer_success_director"
    golden_fields: tuple[str, ...] = ("company", "credit_code", "phone", "first_cooperation_date")
    stale_after_days: int = 365
    # Bulk deduplication jobs: the largest uploaded file (bytes; gRPC carries at most 4 MiB), the most records a job
    # holds in memory, how often an idle worker looks for queued jobs, and how many interrupted runs a job gets.
    dedup_max_file_bytes: int = 3 * 1024 * 1024
    dedup_max_records: int = 200_000
    dedup_poll_seconds: float = 2.0
    dedup_max_attempts: int = 3

    def golden_owners(self) -> dict[str, str]:
        """Golden field → the role that owns it."""
        return {field: self.golden_field_owner_role for field in self.golden_fields}


@lru_cache
def get_settings() -> CustomerMasterSettings:
    """The process's settings, read from the environment once."""
    return CustomerMasterSettings()
