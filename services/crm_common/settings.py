"""Settings every service shares, read from the environment (the Helm chart and `make dev` set the same)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDERS = {"changeme", "change-me", "secret", "password", "xxx", "todo"}


class ServiceSettings(BaseSettings):
    """Configuration common to every service process; each service subclasses it."""

    model_config = SettingsConfigDict(env_prefix="CRM_", extra="ignore", frozen=True)

    environment: Literal["development", "test", "production"] = "production"
    log_level: str = "INFO"
    database_url: str = Field(default="", description="SQLAlchemy URL, postgresql+psycopg://user:pass@host:5432/db")
    nats_url: str = Field(default="", description="NATS server URL(s), comma-separated")
    nats_credentials: str = Field(default="", description="Contents of a NATS .creds file (JWT and NKey seed)")
    grpc_port: int = Field(default=50051, ge=0, le=65535)
    metrics_port: int = Field(default=9464, ge=0, le=65535)
    grpc_grace_seconds: float = Field(default=5.0, gt=0)
    # Bounded redelivery: a message that failed this many times goes to the consumer's dead-letter subject.
    max_deliver: int = Field(default=5, ge=1)
    outbox_poll_seconds: float = Field(default=0.5, gt=0)
    # Connections kept open per process, and how many more it may open for a burst (closed again after it).
    # Sized for the concurrency a service sees (the edge's connections) so a steady load opens none: a new
    # PostgreSQL connection is a new backend process. PostgreSQL's max_connections must cover
    # (pool size + overflow) x processes.
    db_pool_size: int = Field(default=20, ge=1)
    db_max_overflow: int = Field(default=10, ge=0)

    @model_validator(mode="after")
    def _refuse_missing_or_placeholder(self) -> ServiceSettings:
        if self.environment == "production":
            for name in self.required_fields():
                value = getattr(self, name)
                if not value:
                    raise ValueError(f"CRM_{name.upper()} must be set")
                if any(p in str(value).lower() for p in PLACEHOLDERS):
                    raise ValueError(f"CRM_{name.upper()} holds a placeholder value; set a real one")
        return self

    def required_fields(self) -> tuple[str, ...]:
        """Names of the fields that must be set outside development."""
        return ("database_url", "nats_url")


class PeerAddresses(BaseSettings):
    """gRPC addresses (host:port) of the services a process calls."""

    model_config = SettingsConfigDict(env_prefix="CRM_", extra="ignore", frozen=True)

    lead_addr: str = "lead:50051"
    customer_master_addr: str = "customer-master:50051"
    pipeline_addr: str = "pipeline:50051"
    notification_addr: str = "notification:50051"
    integration_gateway_addr: str = "integration-gateway:50051"
    reporting_addr: str = "reporting:50051"
