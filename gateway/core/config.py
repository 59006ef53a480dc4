"""Gateway settings: HTTP port, peer addresses, API keys and the body limit, from CRM_* variables."""

from __future__ import annotations

import hashlib
from enum import StrEnum
from functools import lru_cache
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from crm_common.settings import PLACEHOLDERS, PeerAddresses, ServiceSettings


class Role(StrEnum):
    """What an API key may do."""

    ADMIN = "admin"
    SYSTEM = "system"
    MANAGER = "manager"
    SALES_REP = "sales_rep"
    VIEWER = "viewer"
    # Owns the customer master's golden fields (name, credit code, primary phone, first cooperation date).
    CUSTOMER_SUCCESS_DIRECTOR = "customer_success_director"


class ApiKey(BaseModel):
    """One accepted API key, known only by the SHA-256 of the key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Kept out of repr so that logs and error messages never show even the hash.
    key_sha256: Annotated[str, Field(pattern=r"^[0-9a-fA-F]{64}$", repr=False)]
    role: Role
    rep_id: str | None = None
    name: Annotated[str | None, Field(repr=False)] = None

    @field_validator("key_sha256")
    @classmethod
    def _lower_hex(cls, value: str) -> str:
        return value.lower()

    @model_validator(mode="after")
    def _sales_rep_has_rep_id(self) -> ApiKey:
        if self.role is Role.SALES_REP and not self.rep_id:
            raise ValueError("a sales_rep key needs a rep_id")
        return self


class GatewaySettings(ServiceSettings, PeerAddresses):
    """Configuration of the edge process; it has no database and no NATS."""

    # An empty CRM_API_KEYS (a Secret with an empty value) means "not set", not "malformed JSON".
    model_config = SettingsConfigDict(env_ignore_empty=True)

    http_port: int = Field(default=8080, ge=0, le=65535)
    api_keys: tuple[ApiKey, ...] = Field(
        default=(), description='JSON list of {"key_sha256", "role", "rep_id"?, "name"?}'
    )
    max_body_bytes: int = Field(default=1_048_576, ge=1)

    def required_fields(self) -> tuple[str, ...]:
        """The edge needs API keys outside development, nothing else."""
        return ("api_keys",)

    @model_validator(mode="after")
    def _keys_are_distinct_and_real(self) -> GatewaySettings:
        hashes = [key.key_sha256 for key in self.api_keys]
        if len(set(hashes)) != len(hashes):
            raise ValueError("CRM_API_KEYS lists the same key twice")
        if self.environment == "production":
            placeholders = {hashlib.sha256(p.encode()).hexdigest() for p in PLACEHOLDERS}
            if placeholders & set(hashes):
                raise ValueError("CRM_API_KEYS holds the hash of a placeholder key; issue real keys")
        return self


@lru_cache
def get_settings() -> GatewaySettings:
    """The process's settings, read from the environment once."""
    return GatewaySettings()
