"""Local stack runner: embedded PostgreSQL, nats-server and every service as its own process (`make dev`)."""

from .infra import InfraError, NatsServer, PostgresServer
from .otlp import OtlpReceiver, SpanRecord
from .procs import ChildProcess, free_port
from .seed import SeedResult, seed_demo_data
from .stack import GATEWAY, SERVICES, ServiceSpec, Stack, StackError

__all__ = [
    "GATEWAY",
    "SERVICES",
    "ChildProcess",
    "InfraError",
    "NatsServer",
    "OtlpReceiver",
    "PostgresServer",
    "SeedResult",
    "ServiceSpec",
    "SpanRecord",
    "Stack",
    "StackError",
    "free_port",
    "seed_demo_data",
]
