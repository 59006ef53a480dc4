"""Gateway settings: HTTP port, peer addresses, API keys, the identity provider and the body limit, from CRM_*."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from crm_common.identity import Role
from crm_common.settings import PLACEHOLDERS, PeerAddresses, ServiceSettings

__all__ = ["ApiKey", "GatewaySettings", "Role", "get_settings"]


class ApiKey(BaseModel):
    """One accepted API key, known only by the SHA-256 of the key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Kept out of repr so that logs and error messages never show even the hash.
    key_sha256: Annotated[str, Field(pattern=r"^[0-9a-fA-F]{64}$", repr=False)]
    role: Role
    rep_id: str | None = None
    name: Annotated[str | None, Field(repr=False)] = None
    # The teams a manager's key manages (a manager sees and changes only these).
    team_ids: tuple[str, ...] = ()

    @field_validator("key_sha256")
    @classmethod
    def _lower_hex(cls, value: str) -> str:
        return value.lower()

    @model_validator(mode="after")
    def _sales_rep_has_rep_id(self) -> ApiKey:
        if self.role is Role.SERVICE:
            raise ValueError("the service role is for services only, not for API keys")
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
    # The opportunity file route's own body limit (evidence documents such as quotes), above the edge's.
    opportunity_file_max_bytes: int = Field(default=20 * 1024 * 1024, ge=1)
    docs_enabled: bool | None = Field(default=None, description="Serve /docs and /redoc (unset: on outside production)")
    # The company's identity provider (OpenID Connect): bearer JWTs it signs are accepted beside API keys.
    oidc_issuer: str = Field(default="", description="The `iss` of the provider's tokens")
    oidc_audience: str = Field(default="", description="The `aud` the provider puts in tokens for this API")
    oidc_jwks_url: str = Field(default="", description="The provider's JWKS (signing keys; fetched, cached, refreshed)")
    oidc_group_roles: dict[str, Role] = Field(default_factory=dict, description='JSON {"<group>": "<role>"}')
    oidc_groups_claim: str = "groups"
    oidc_rep_claim: str = "crm_rep_id"
    oidc_teams_claim: str = "crm_team_ids"
    oidc_algorithms: tuple[str, ...] = ("RS256", "ES256", "PS256")
    oidc_jwks_cache_seconds: int = Field(default=300, ge=1)
    # The least time between two fetches of the key set caused by unknown key ids.
    oidc_jwks_refresh_cooldown_seconds: float = Field(default=30.0, ge=0)

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_issuer)

    def required_fields(self) -> tuple[str, ...]:
        """Outside development the edge needs a way to know callers: API keys, the identity provider or both."""
        return () if self.oidc_enabled else ("api_keys",)

    @model_validator(mode="after")
    def _oidc_is_whole(self) -> GatewaySettings:
        parts = {"CRM_OIDC_ISSUER": self.oidc_issuer, "CRM_OIDC_AUDIENCE": self.oidc_audience,
                 "CRM_OIDC_JWKS_URL": self.oidc_jwks_url}
        if any(parts.values()):
            missing = [name for name, value in parts.items() if not value]
            if missing:
                raise ValueError(f"{', '.join(missing)} must be set with the other CRM_OIDC_* settings")
            if not self.oidc_group_roles:
                raise ValueError("CRM_OIDC_GROUP_ROLES must map at least one group to a role")
            if Role.SERVICE in self.oidc_group_roles.values():
                raise ValueError("CRM_OIDC_GROUP_ROLES may not grant the service role")
            if self.environment == "production" and not self.oidc_jwks_url.startswith("https://"):
                raise ValueError("CRM_OIDC_JWKS_URL must be https:// in production")
            if {a.upper() for a in self.oidc_algorithms} & {"NONE", "HS256", "HS384", "HS512"}:
                raise ValueError("CRM_OIDC_ALGORITHMS takes asymmetric algorithms only")
        return self

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
