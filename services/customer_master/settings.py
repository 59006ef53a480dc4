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

    def golden_owners(self) -> dict[str, str]:
        """Golden field → the role that owns it."""
        return {field: self.golden_field_owner_role for field in self.golden_fields}


@lru_cache
def get_settings() -> CustomerMasterSettings:
    """The process's settings, read from the environment once."""
    return CustomerMasterSettings()
