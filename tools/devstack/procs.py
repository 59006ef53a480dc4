"""Child processes of the local stack: spawned with a log file, stopped with a deadline, none left behind."""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import psutil

_handed_out: set[int] = set()
_ports_lock = threading.Lock()


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on host right now and not handed out before by this process."""
    with _ports_lock:
        while True:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.bind((host, 0))
                port = sock.getsockname()[1]
            if port not in _handed_out:
                _handed_out.add(port)
                return port


def log_tail(path: Path, lines: int = 40) -> str:
    """The last lines of a log file ('' when it does not exist)."""
    try:
        with path.open("rb") as log:
            log.seek(0, os.SEEK_END)
            log.seek(max(0, log.tell() - 64 * 1024))
            text = log.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


class ChildProcess:
    """One process of the stack, in its own process group so that a stop reaches its children too."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        user: str | None = None,
        pid_registry: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.user = user
        self.pid_registry = pid_registry
        self._popen: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """Process id of the current (or last) run."""
        return self._popen.pid if self._popen is not None else None

    @property
    def running(self) -> bool:
        """Whether the process was started and has not exited."""
        return self._popen is not None and self._popen.poll() is None

    @property
    def returncode(self) -> int | None:
        """Exit code of the last run (negative: killed by that signal); None while running."""
        return self._popen.poll() if self._popen is not None else None

    def start(self) -> None:
        """Spawn the process, appending its stdout and stderr to the log file."""
        if self.running:
            raise RuntimeError(f"{self.name} is already running (pid {self.pid})")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            # A session of its own: a Ctrl+C at the terminal reaches only the supervisor, which then
            # stops the children in order; killpg reaches whatever a child forked.
            self._popen = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.cwd,
                # The user's own group and no supplementary ones: root's group would shadow "others" access.
                user=self.user,
                group=_primary_group(self.user),
                extra_groups=[] if self.user is not None else None,
                start_new_session=True,
            )
        if self.pid_registry is not None:
            _register_pid(self.pid_registry, self.name, self._popen.pid)

    def send(self, sig: int) -> None:
        """Send a signal to the process itself (not its group); a no-op when it is not running."""
        if self.running:
            assert self._popen is not None
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._popen.pid, sig)

    def wait(self, timeout: float) -> bool:
        """Wait up to timeout seconds for the exit; True when it has exited."""
        if self._popen is None:
            return True
        try:
            self._popen.wait(timeout=max(0.0, timeout))
        except subprocess.TimeoutExpired:
            return False
        return True

    def descendants(self) -> list[psutil.Process]:
        """The process's children, grandchildren, ... right now (PostgreSQL's are in sessions of their own)."""
        if not self.running:
            return []
        assert self._popen is not None
        try:
            return psutil.Process(self._popen.pid).children(recursive=True)
        except psutil.Error:
            return []

    def kill_group(self, known: Iterable[psutil.Process] = ()) -> None:
        """SIGKILL the process, its group, its descendants and known (an earlier snapshot of them), then reap."""
        if self._popen is None:
            return
        tree = [*known, *self.descendants()]
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._popen.pid, signal.SIGKILL)
        for proc in tree:
            with contextlib.suppress(psutil.Error):
                proc.kill()  # psutil refuses when the pid now belongs to another process
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._popen.wait(timeout=5)
        deadline = time.monotonic() + 3.0
        while (_live_group_members(self._popen.pid) or _any_live(tree)) and time.monotonic() < deadline:
            time.sleep(0.01)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 8.0) -> int | None:
        """Signal, wait up to timeout, then SIGKILL the group; returns the exit code."""
        stop_all([(self, sig)], timeout)
        return self.returncode


def stop_all(targets: Iterable[tuple[ChildProcess, int]], timeout: float) -> list[str]:
    """Signal every process at once, wait up to timeout in total, SIGKILL stragglers; names of those killed."""
    targets = list(targets)
    trees = [proc.descendants() for proc, _ in targets]
    for proc, sig in targets:
        proc.send(sig)
    deadline = time.monotonic() + timeout
    killed = []
    for (proc, _), tree in zip(targets, trees, strict=True):
        if not proc.wait(deadline - time.monotonic()):
            killed.append(proc.name)
        # Also sweeps whatever a well-behaved parent left behind when it exited.
        proc.kill_group(tree)
    return killed


def _any_live(processes: Iterable[psutil.Process]) -> bool:
    """Whether any of processes still runs (a zombie does not count; is_running guards against pid reuse)."""
    for proc in processes:
        with contextlib.suppress(psutil.Error):
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                return True
    return False


def _live_group_members(pgid: int) -> list[int]:
    """Pids of the group's processes that are not zombies (an orphan's zombie waits for init to reap it)."""
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return []
        return [pgid]
    members = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat_line = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ...; comm may hold spaces and parentheses.
        fields = stat_line[stat_line.rindex(")") + 2 :].split()
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            members.append(int(entry.name))
    return members


def _primary_group(user: str | None) -> int | None:
    """The primary group id of user (None for no user)."""
    return pwd.getpwnam(user).pw_gid if user is not None else None


def _register_pid(registry: Path, name: str, pid: int) -> None:
    """Record pid and start time so that a later run can reap leftovers of a crashed one."""
    try:
        entries = json.loads(registry.read_text())
    except (FileNotFoundError, ValueError):
        entries = []
    with contextlib.suppress(psutil.Error):
        entries.append({"name": name, "pid": pid, "create_time": psutil.Process(pid).create_time()})
    registry.write_text(json.dumps(entries))


def reap_leftovers(registry: Path) -> list[str]:
    """SIGKILL the process groups recorded in registry that are still alive (a crashed earlier run)."""
    try:
        entries = json.loads(registry.read_text())
    except (FileNotFoundError, ValueError):
        return []
    reaped = []
    for entry in entries:
        try:
            proc = psutil.Process(entry["pid"])
            if abs(proc.create_time() - entry["create_time"]) > 0.01:
                continue  # the pid was reused by an unrelated process
        except (psutil.Error, KeyError, TypeError):
            continue
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(entry["pid"], signal.SIGKILL)
        reaped.append(entry["name"])
    return reaped
