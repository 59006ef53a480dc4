"""Settings every service shares, read from the environment (the Helm chart and `make dev` set the same)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDERS = {"changeme", "change-me", "secret", "password", "xxx", "todo"}
# Outside production a process without CRM_IDENTITY_KEY signs with this one (every dev process agrees on it).
DEV_IDENTITY_KEY = "crm-development-only-identity-key-0123456789"
MIN_IDENTITY_KEY_BYTES = 32


class TransportSettings(BaseSettings):
    """How a process talks gRPC: the identity key every pod shares, reflection, optional mutual TLS."""

    model_config = SettingsConfigDict(env_prefix="CRM_", extra="ignore", frozen=True)

    environment: Literal["development", "test", "production"] = "production"
    # Kept out of repr: the key signs every identity token between services.
    identity_key: str = Field(default="", repr=False, description="HMAC key of the identity tokens (>= 32 bytes)")
    identity_ttl_seconds: int = Field(default=120, ge=10, le=3600)
    # None: on outside production, off in production.
    grpc_reflection: bool | None = None
    # Mutual TLS between pods: all three files, or none (plaintext in-cluster).
    grpc_tls_cert_file: str = ""
    grpc_tls_key_file: str = ""
    grpc_tls_ca_file: str = ""
    # With TLS on, kubelet's gRPC probes (plaintext) ask health on this port; 0 = no separate health port.
    grpc_health_port: int = Field(default=0, ge=0, le=65535)

    @model_validator(mode="after")
    def _identity_key_and_tls(self) -> TransportSettings:
        key = self.identity_key
        if self.environment == "production":
            if not key:
                raise ValueError("CRM_IDENTITY_KEY must be set")
            if key == DEV_IDENTITY_KEY or any(p in key.lower() for p in PLACEHOLDERS):
                raise ValueError("CRM_IDENTITY_KEY holds a placeholder value; set a real one")
        if key and len(key.encode()) < MIN_IDENTITY_KEY_BYTES:
            raise ValueError(f"CRM_IDENTITY_KEY must be at least {MIN_IDENTITY_KEY_BYTES} bytes")
        tls = [self.grpc_tls_cert_file, self.grpc_tls_key_file, self.grpc_tls_ca_file]
        if any(tls) and not all(tls):
            raise ValueError("CRM_GRPC_TLS_CERT_FILE, CRM_GRPC_TLS_KEY_FILE and CRM_GRPC_TLS_CA_FILE go together")
        return self

    @property
    def signing_key(self) -> str:
        """The identity key, or the fixed development key outside production when none is set."""
        return self.identity_key or DEV_IDENTITY_KEY

    @property
    def reflection_enabled(self) -> bool:
        return self.environment != "production" if self.grpc_reflection is None else self.grpc_reflection

    @property
    def tls_enabled(self) -> bool:
        return bool(self.grpc_tls_cert_file)


class ServiceSettings(TransportSettings):
    """Configuration common to every service process; each service subclasses it."""

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
