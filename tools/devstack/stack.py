"""The whole system as local processes: PostgreSQL, NATS, migrations, six services, demo data, REST gateway."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import shutil
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from crm_common.grpc_client import blocking_channel_as
from crm_common.identity import Principal, Role, user_principal
from crm_common.settings import TransportSettings

from .infra import NatsServer, PostgresServer
from .procs import ChildProcess, free_port, log_tail, stop_all
from .seed import MANAGER_ID, SeedResult, seed_demo_data

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
MIGRATE_TIMEOUT = 120.0
INFRA = ("postgres", "nats")
_TERMINATING = {signal.SIGKILL, signal.SIGTERM, signal.SIGINT, signal.SIGQUIT}


@dataclass(frozen=True)
class ServiceSpec:
    """One process of the system: its hyphenated name, `python -m` module and schema (None: no migrations)."""

    name: str
    module: str
    schema: str | None = None
    http: bool = False
    # The named gRPC service whose health is readiness (the whole server, "", only means alive).
    grpc_service: str = ""

    @property
    def addr_env(self) -> str:
        """The variable every process reads this service's gRPC address from."""
        return f"CRM_{self.name.upper().replace('-', '_')}_ADDR"


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("lead", "lead", "lead", grpc_service="crm.lead.v1.LeadService"),
    ServiceSpec(
        "customer-master", "customer_master", "customer_master", grpc_service="crm.customer.v1.CustomerService"
    ),
    ServiceSpec("pipeline", "pipeline", "pipeline", grpc_service="crm.pipeline.v1.PipelineService"),
    ServiceSpec("notification", "notification", "notification", grpc_service="crm.notification.v1.NotificationService"),
    ServiceSpec(
        "integration-gateway",
        "integration_gateway",
        "integration_gateway",
        grpc_service="crm.integration.v1.IntegrationService",
    ),
    ServiceSpec("reporting", "reporting", "reporting", grpc_service="crm.reporting.v1.ReportingService"),
)
GATEWAY = ServiceSpec("gateway", "gateway", None, http=True)
SERVICE_ADDR_ENVS = tuple(spec.addr_env for spec in SERVICES)


class StackError(RuntimeError):
    """The stack could not start (the message names the process and shows the tail of its log)."""


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _sqlalchemy_and_libpq(url: str) -> tuple[str, str]:
    """Both spellings of a PostgreSQL URL: postgresql+psycopg://… for services, postgresql://… for libpq."""
    rest = url.split("://", 1)[1]
    return f"postgresql+psycopg://{rest}", f"postgresql://{rest}"


class Stack:
    """Starts, watches and stops every process of the system; usable from pytest and from the CLI.

    CRM_TEST_DATABASE_URL / CRM_TEST_NATS_URL, when set, name servers to use instead of starting
    PostgreSQL / NATS. env_overrides apply to every service process last (a None value removes the
    variable). fresh=True removes the data, logs and stack.json of an earlier run in workdir first.
    """

    def __init__(
        self,
        workdir: Path | str,
        otlp_endpoint: str | None = None,
        env_overrides: Mapping[str, str | None] | None = None,
        *,
        log_level: str = "INFO",
        ready_timeout: float = 60.0,
        durable: bool = False,
        fresh: bool = True,
        services: Sequence[ServiceSpec] = SERVICES,
        gateway: ServiceSpec | None = GATEWAY,
    ) -> None:
        self.workdir = Path(workdir).resolve()
        self.logs_dir = self.workdir / "logs"
        self.otlp_endpoint = otlp_endpoint
        self.env_overrides = dict(env_overrides or {})
        self.log_level = log_level
        self.ready_timeout = ready_timeout
        self.durable = durable
        self.fresh = fresh
        self.specs: dict[str, ServiceSpec] = {spec.name: spec for spec in services}
        self.gateway_spec = gateway
        if gateway is not None:
            self.specs[gateway.name] = gateway

        self.postgres: PostgresServer | None = None
        self.nats: NatsServer | None = None
        self.database_url = ""
        self.postgres_url = ""
        self.nats_url = ""
        self.seed: SeedResult | None = None
        self.api_key = ""
        self.rep_keys: dict[str, str] = {}
        self.role_keys: dict[str, str] = {}
        self.info: dict[str, Any] = {}

        # One identity key for every process of the stack (services verify the tokens the others mint).
        self.identity_key = secrets.token_urlsafe(48)

        self._ports: dict[str, tuple[int, int]] = {}
        self._api_keys_json = "[]"
        self._procs: dict[str, ChildProcess] = {}
        self._transient: list[ChildProcess] = []
        self._lock = threading.RLock()

    # ---- lifecycle -------------------------------------------------------------------------------

    def __enter__(self) -> Stack:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def pid_registry(self) -> Path:
        """File recording every pid this stack spawned (lets a later run reap leftovers of a crash)."""
        return self.workdir / "pids.json"

    @property
    def stack_json(self) -> Path:
        """Where info is written."""
        return self.workdir / "stack.json"

    def start(self) -> dict[str, Any]:
        """Start everything and return info; on any failure everything started is stopped again."""
        with self._lock:
            try:
                self._start()
            except BaseException:
                self.stop()
                raise
            return self.info

    def _start(self) -> None:
        started = time.monotonic()
        if self.fresh:
            for name in ("postgres", "nats", "logs"):
                shutil.rmtree(self.workdir / name, ignore_errors=True)
            for file in (self.stack_json, self.pid_registry):
                file.unlink(missing_ok=True)
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        self._start_infra()
        for spec in self.specs.values():
            self._ports.setdefault(spec.name, (free_port(), free_port()))
        self._migrate()

        backends = [spec for spec in self.specs.values() if not spec.http]
        for spec in backends:
            self._spawn(spec)
        self._wait_ready([spec.name for spec in backends], self.ready_timeout)
        logger.info("%d services serving", len(backends))

        if "lead" in self.specs:
            try:
                self.seed = seed_demo_data(self.addr("lead"), self.identity_key)
            except grpc.RpcError as exc:
                raise StackError(
                    f"seeding through lead failed: {exc.code().name}: {exc.details()}; "
                    f"last lines of {self.log_path('lead')}:\n{self.log_tail('lead')}"
                ) from exc
            logger.info("seeded team %r with %d reps", self.seed.team_name, len(self.seed.reps))
        self._make_api_keys()

        if self.gateway_spec is not None:
            self._spawn(self.gateway_spec)
            self._wait_ready([self.gateway_spec.name], self.ready_timeout)
            logger.info("gateway ready at %s", self.gateway_url)

        self.info = self._build_info()
        self.stack_json.write_text(json.dumps(self.info, indent=2, ensure_ascii=False) + "\n")
        logger.info("stack started in %.1f s; %s", time.monotonic() - started, self.stack_json)

    def stop(self, timeout: float = 8.0, infra_timeout: float = 2.0) -> None:
        """SIGTERM every service, wait up to timeout in total, SIGKILL stragglers, then stop PostgreSQL and NATS."""
        with self._lock:
            targets = [(proc, signal.SIGTERM) for proc in [*self._transient, *self._procs.values()]]
            killed = stop_all(targets, timeout)
            if killed:
                logger.warning("killed after %.0f s without exiting: %s", timeout, ", ".join(killed))
            self._transient.clear()
            servers = [server for server in (self.nats, self.postgres) if server is not None]
            for server in servers:
                server.begin_stop()
            deadline = time.monotonic() + infra_timeout
            for server in servers:
                server.finish_stop(deadline - time.monotonic())

    # ---- one process at a time -------------------------------------------------------------------

    def kill(self, name: str, sig: int = signal.SIGKILL, *, wait: bool | None = None) -> None:
        """Send sig to one process (a service, 'gateway', 'postgres' or 'nats'); SIGKILL takes its whole group.

        wait (default: for terminating signals) blocks until the process has exited.
        """
        with self._lock:
            proc = self._process(name)
            if proc is None or not proc.running:
                raise StackError(f"{name} is not running")
            if sig == signal.SIGKILL:
                proc.kill_group()
            else:
                proc.send(sig)
            if (sig in _TERMINATING if wait is None else wait) and not proc.wait(10.0):
                raise StackError(f"{name} did not exit within 10 s of signal {sig}")

    def start_service(self, name: str, timeout: float | None = None) -> None:
        """Start one stopped process again, on the same ports (and data), and wait until it is ready."""
        with self._lock:
            if name in INFRA:
                server = self._server(name)
                server.start()
                return
            spec = self._spec(name)
            proc = self._procs.get(name)
            if proc is not None and proc.running:
                raise StackError(f"{name} is already running (pid {proc.pid})")
            self._spawn(spec)
            self._wait_ready([name], self.ready_timeout if timeout is None else timeout)

    def stop_service(self, name: str, timeout: float = 8.0) -> int | None:
        """Stop one process gracefully (SIGTERM; SIGKILL after timeout); returns its exit code."""
        with self._lock:
            if name in INFRA:
                self._server(name).stop(timeout)
                proc = self._process(name)
                return proc.returncode if proc is not None else None
            proc = self._procs.get(name)
            if proc is None:
                raise StackError(f"{name} was never started")
            return proc.stop(signal.SIGTERM, timeout)

    def restart_service(self, name: str, timeout: float | None = None) -> None:
        """Graceful stop then start of one process."""
        self.stop_service(name)
        self.start_service(name, timeout)

    def running(self, name: str) -> bool:
        """Whether a process (service, gateway, postgres or nats) is alive."""
        proc = self._process(name)
        return proc is not None and proc.running

    def pid(self, name: str) -> int | None:
        """Process id of the current (or last) run of a process."""
        proc = self._process(name)
        return proc.pid if proc is not None else None

    def status(self) -> dict[str, int | None]:
        """Every process started so far: None while running, else its exit code."""
        names = [*(n for n in INFRA if self._process(n) is not None), *self._procs]
        result: dict[str, int | None] = {}
        for name in names:
            proc = self._process(name)
            assert proc is not None
            result[name] = proc.returncode
        return result

    # ---- addresses -------------------------------------------------------------------------------

    def channel(self, name: str, principal: Principal | None = None) -> grpc.Channel:
        """A blocking channel to a service whose calls carry an identity (an admin unless another is given)."""
        settings = TransportSettings(environment="development", identity_key=self.identity_key)
        caller = principal or user_principal(Role.ADMIN, subject="devstack:tool")
        return blocking_channel_as(self.addr(name), caller, settings=settings)

    def addr(self, name: str) -> str:
        """host:port of a service's gRPC server."""
        return f"127.0.0.1:{self._ports[self._spec(name).name][0]}"

    def metrics_url(self, name: str) -> str:
        """Prometheus endpoint of a service or the gateway."""
        return f"http://127.0.0.1:{self._ports[self._spec(name).name][1]}/metrics"

    @property
    def gateway_url(self) -> str:
        """Base URL of the REST gateway."""
        if self.gateway_spec is None:
            raise StackError("this stack has no gateway")
        return f"http://127.0.0.1:{self._ports[self.gateway_spec.name][0]}"

    def log_path(self, name: str) -> Path:
        """Log file of a process."""
        if name == "postgres" and self.postgres is not None:
            return self.postgres.log_path
        if name == "nats" and self.nats is not None:
            return self.nats.log_path
        return self.logs_dir / f"{name}.log"

    def log_tail(self, name: str, lines: int = 40) -> str:
        """The last lines of a process's log."""
        return log_tail(self.log_path(name), lines)

    # ---- internals -------------------------------------------------------------------------------

    def _spec(self, name: str) -> ServiceSpec:
        try:
            return self.specs[name]
        except KeyError:
            known = ", ".join([*self.specs, *INFRA])
            raise StackError(f"unknown process {name!r}; known: {known}") from None

    def _server(self, name: str) -> PostgresServer | NatsServer:
        server = self.postgres if name == "postgres" else self.nats
        if server is None:
            raise StackError(f"{name} is an external server (CRM_TEST_*_URL); the stack does not run it")
        return server

    def _process(self, name: str) -> ChildProcess | None:
        if name in INFRA:
            server = self.postgres if name == "postgres" else self.nats
            return server.process if server is not None else None
        self._spec(name)
        return self._procs.get(name)

    def _start_infra(self) -> None:
        external_db = os.environ.get("CRM_TEST_DATABASE_URL")
        if external_db:
            self.database_url, self.postgres_url = _sqlalchemy_and_libpq(external_db)
            logger.info("using the PostgreSQL named by CRM_TEST_DATABASE_URL")
        else:
            self.postgres = PostgresServer(
                self.workdir / "postgres", durable=self.durable, pid_registry=self.pid_registry
            )
            self.postgres.start()
            # Services on this machine talk to it over its unix socket; tools and tests keep TCP.
            self.database_url, self.postgres_url = self.postgres.socket_url, self.postgres.libpq_url
        external_nats = os.environ.get("CRM_TEST_NATS_URL")
        if external_nats:
            self.nats_url = external_nats
            logger.info("using the NATS server named by CRM_TEST_NATS_URL")
        else:
            self.nats = NatsServer(self.workdir / "nats", pid_registry=self.pid_registry)
            self.nats.start()
            self.nats_url = self.nats.url

    def _env(self, spec: ServiceSpec) -> dict[str, str]:
        """The environment of one process: ours, plus what the Helm chart would set for it."""
        env = dict(os.environ)
        if not self.otlp_endpoint:
            # An endpoint inherited from the shell would send the stack's spans somewhere unasked.
            env.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
            env.pop("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", None)
        env.update(
            {
                "PYTHONUNBUFFERED": "1",
                "CRM_ENVIRONMENT": "development",
                "CRM_LOG_LEVEL": self.log_level,
                "CRM_DATABASE_URL": self.database_url,
                "CRM_NATS_URL": self.nats_url,
                "CRM_IDENTITY_KEY": self.identity_key,
                "OTEL_SERVICE_NAME": spec.name,
            }
        )
        # Provider stand-ins listen on loopback, which the egress guard refuses unless allowed (docs/egress.md).
        env.setdefault("CRM_OUTBOUND_ALLOWED_NETWORKS", "127.0.0.0/8")
        for other in self.specs.values():
            if not other.http:
                env[other.addr_env] = self.addr(other.name)
        main_port, metrics_port = self._ports[spec.name]
        env["CRM_METRICS_PORT"] = str(metrics_port)
        if spec.http:
            env["CRM_HTTP_PORT"] = str(main_port)
            env["CRM_API_KEYS"] = self._api_keys_json
        else:
            env["CRM_GRPC_PORT"] = str(main_port)
        if self.otlp_endpoint:
            env["OTEL_EXPORTER_OTLP_ENDPOINT"] = self.otlp_endpoint
            env["OTEL_EXPORTER_OTLP_PROTOCOL"] = "grpc"
        for key, value in self.env_overrides.items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        return env

    def _migrate(self) -> None:
        """Run every schema's migrations in parallel; a failure is retried once alone before it counts."""
        specs = [spec for spec in self.specs.values() if spec.schema]
        runs = {spec.name: self._migration(spec) for spec in specs}
        for proc in runs.values():
            proc.start()
        self._transient.extend(runs.values())
        failed = [name for name, proc in runs.items() if not self._finish_migration(proc)]
        for name in failed:
            # Concurrent DDL of several services (e.g. CREATE EXTENSION) can collide; alone it cannot.
            logger.info("migration of %s failed in parallel; retrying it alone", name)
            proc = self._migration(self.specs[name])
            proc.start()
            self._transient.append(proc)
            if not self._finish_migration(proc):
                raise StackError(
                    f"migration of {name} failed (exit {proc.returncode}); last lines of {proc.log_path}:\n"
                    f"{log_tail(proc.log_path)}"
                )
        self._transient.clear()
        logger.info("migrated %d schemas", len(specs))

    def _migration(self, spec: ServiceSpec) -> ChildProcess:
        return ChildProcess(
            f"{spec.name}-migrate",
            [sys.executable, "-m", spec.module, "migrate"],
            log_path=self.logs_dir / f"{spec.name}.migrate.log",
            env=self._env(spec),
            cwd=REPO_ROOT,
            pid_registry=self.pid_registry,
        )

    @staticmethod
    def _finish_migration(proc: ChildProcess) -> bool:
        if not proc.wait(MIGRATE_TIMEOUT):
            proc.kill_group()
            raise StackError(
                f"{proc.name} did not finish within {MIGRATE_TIMEOUT:.0f} s; last lines of {proc.log_path}:\n"
                f"{log_tail(proc.log_path)}"
            )
        return proc.returncode == 0

    def _spawn(self, spec: ServiceSpec) -> None:
        proc = ChildProcess(
            spec.name,
            [sys.executable, "-m", spec.module],
            log_path=self.logs_dir / f"{spec.name}.log",
            env=self._env(spec),
            cwd=REPO_ROOT,
            pid_registry=self.pid_registry,
        )
        self._procs[spec.name] = proc
        proc.start()

    def _wait_ready(self, names: Sequence[str], timeout: float) -> None:
        """Poll every named process until ready (gRPC health SERVING, or HTTP /readyz 200)."""
        deadline = time.monotonic() + timeout
        pending = list(names)
        last: dict[str, str] = dict.fromkeys(names, "no answer yet")
        channels = {n: grpc.insecure_channel(self.addr(n)) for n in names if not self.specs[n].http}
        try:
            while pending:
                for name in list(pending):
                    proc = self._procs[name]
                    if not proc.running:
                        raise StackError(
                            f"{name} exited with code {proc.returncode} before it was ready; "
                            f"last lines of {proc.log_path}:\n{log_tail(proc.log_path)}"
                        )
                    ready, last[name] = self._probe(name, channels.get(name))
                    if ready:
                        pending.remove(name)
                if not pending:
                    break
                if time.monotonic() > deadline:
                    name = pending[0]
                    raise StackError(
                        f"{name} not ready after {timeout:.0f} s (last probe: {last[name]}); "
                        f"last lines of {self.log_path(name)}:\n{self.log_tail(name)}"
                    )
                time.sleep(0.2)
        finally:
            for channel in channels.values():
                channel.close()

    def _probe(self, name: str, channel: grpc.Channel | None) -> tuple[bool, str]:
        if channel is None:
            try:
                with urllib.request.urlopen(f"{self.gateway_url}/readyz", timeout=2) as resp:
                    return resp.status == 200, f"HTTP {resp.status}"
            except urllib.error.HTTPError as exc:
                return False, f"HTTP {exc.code}"
            except OSError as exc:
                return False, str(exc)
        try:
            stub = health_pb2_grpc.HealthStub(channel)
            request = health_pb2.HealthCheckRequest(service=self.specs[name].grpc_service)
            reply = stub.Check(request, timeout=2)
        except grpc.RpcError as exc:
            return False, f"{exc.code().name}: {exc.details()}"
        status = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
        return reply.status == health_pb2.HealthCheckResponse.SERVING, status

    def _make_api_keys(self) -> None:
        """A random admin key, one key per other role, one sales_rep key per seeded rep; the gateway gets hashes."""
        self.api_key = secrets.token_urlsafe(32)
        entries: list[dict[str, Any]] = [
            {"key_sha256": _sha256(self.api_key), "role": "admin", "name": "devstack admin"}
        ]
        # admin_2: a second admin, for four-eyes approvals of pipeline overrides.
        self.role_keys = {role: secrets.token_urlsafe(32) for role in ("system", "manager", "viewer", "admin_2")}
        for role, key in self.role_keys.items():
            entry: dict[str, Any] = {
                "key_sha256": _sha256(key), "role": role.removesuffix("_2"), "name": f"devstack {role}"
            }
            if role == "manager" and self.seed is not None:
                entry["team_ids"] = [self.seed.team_id]  # the demo team's manager
                entry["rep_id"] = MANAGER_ID
            entries.append(entry)
        self.rep_keys = {}
        for rep in self.seed.reps if self.seed is not None else ():
            key = secrets.token_urlsafe(32)
            self.rep_keys[rep.id] = key
            entries.append({"key_sha256": _sha256(key), "role": "sales_rep", "rep_id": rep.id, "name": rep.name})
        self._api_keys_json = json.dumps(entries, ensure_ascii=False)

    def _build_info(self) -> dict[str, Any]:
        services: dict[str, dict[str, str]] = {}
        for spec in self.specs.values():
            entry = {"http": self.gateway_url} if spec.http else {"grpc": self.addr(spec.name)}
            entry["metrics"] = self.metrics_url(spec.name)
            entry["log"] = str(self.log_path(spec.name))
            services[spec.name] = entry
        seed = self.seed
        return {
            "gateway_url": self.gateway_url if self.gateway_spec is not None else None,
            "api_key": self.api_key,
            # Signs the identity tokens a gRPC call needs (crm_common.grpc_client.channel_as with this key).
            "identity_key": self.identity_key,
            "rep_keys": self.rep_keys,
            "role_keys": self.role_keys,
            "reps": [
                {"id": r.id, "name": r.name, "email": r.email, "team_id": r.team_id}
                for r in (seed.reps if seed is not None else ())
            ],
            "team": {"id": seed.team_id, "name": seed.team_name} if seed is not None else None,
            "routing_rule_id": seed.rule_id if seed is not None else None,
            "postgres_url": self.postgres_url,
            "database_url": self.database_url,
            "nats_url": self.nats_url,
            "otlp_endpoint": self.otlp_endpoint,
            "services": services,
            "workdir": str(self.workdir),
            "logs_dir": str(self.logs_dir),
        }
