"""Fault cases run against a live stack under a steady load of captures, and what each one cost.

Each case: a steady open-loop load of captures (every lead with its own Idempotency-Key, retried with that key
until accepted, as a client would), a fault injected after a warm-up, the load kept on for the case's length,
then a wait until every accepted lead has been notified. Counted per case: leads accepted, lost (accepted and
never notified), doubled (assigned or notified twice), new dead letters, the time after the fault ended until
the p99 latency of accepting a capture was back to its level before the fault, and processes that exited on
their own (what a liveness probe would have restarted).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import signal
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
import nats

from crm_common.bus.streams import DLQ_STREAM
from tools.devstack import Stack

# The stack's processes a kubelet would restart after a kill -9, in the order case 1 kills them.
PROCESSES = ("gateway", "lead", "customer-master", "pipeline", "notification", "integration-gateway", "reporting")


@dataclass
class Outcome:
    """One case's figures."""

    case: str
    accepted: int = 0
    lost: int = 0
    doubled: int = 0
    dead_letters: int = 0
    recovery_seconds: float | None = None
    exited_on_their_own: int = 0
    fault_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.lost == 0 and self.doubled == 0 and self.dead_letters == 0 and self.exited_on_their_own == 0

    def line(self) -> str:
        recovery = "n/a" if self.recovery_seconds is None else f"{self.recovery_seconds:.1f} s"
        return (
            f"{self.case}: accepted {self.accepted}, lost {self.lost}, doubled {self.doubled}, "
            f"dead letters {self.dead_letters}, p99 recovery {recovery}, liveness restarts {self.exited_on_their_own}"
            f" ({'PASS' if self.passed else 'FAIL'})"
        )


class CaptureLoad:
    """Captures at a steady rate from a thread pool; records each accepted lead and when it was accepted."""

    def __init__(self, stack: Stack, *, rate: float, workers: int = 16) -> None:
        self.url, self.key = stack.info["gateway_url"], stack.api_key
        self.rate = rate
        self.workers = workers
        self.accepted: dict[str, float] = {}  # lead id -> when accepted
        self.latencies: list[tuple[float, float]] = []  # (intended start, seconds until accepted)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> CaptureLoad:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        with concurrent.futures.ThreadPoolExecutor(max_workers=self.workers) as pool:
            start, n = time.monotonic(), 0
            while not self._stop.is_set():
                intended = start + n / self.rate
                delay = intended - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                pool.submit(self._capture, n, intended)
                n += 1

    def _capture(self, n: int, intended: float) -> None:
        body = {"name": f"fault lead {n}", "phone": f"139{uuid.uuid4().int % 10**8:08d}"}
        headers = {"Authorization": f"Bearer {self.key}", "Idempotency-Key": str(uuid.uuid4())}
        # Retried with the same key for as long as a client would (the edge answers 503 during an outage).
        deadline = intended + 180
        with httpx.Client(base_url=self.url, timeout=15) as client:
            while time.monotonic() < deadline:
                try:
                    response = client.post(
                        "/v1/leads", json={**body, "source": {"channel": "exhibition_qr"}}, headers=headers
                    )
                    if response.status_code in (200, 201):
                        lead_id = response.json()["id"]
                        now = time.monotonic()
                        with self._lock:
                            self.accepted[lead_id] = now
                            self.latencies.append((intended, now - intended))
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.5)

    def p99(self, since: float, until: float) -> float | None:
        with self._lock:
            values = sorted(lat for at, lat in self.latencies if since <= at < until)
        return values[min(len(values) - 1, int(len(values) * 0.99))] if values else None


def recovery_after(load: CaptureLoad, *, baseline: float, fault_end: float, until: float) -> float | None:
    """Seconds after `fault_end` until the p99 of captures started in a 5-s window is back within 1.5x baseline."""
    limit = max(baseline * 1.5, baseline + 0.05)
    t = fault_end
    while t + 5 <= until:
        window = load.p99(t, t + 5)
        if window is not None and window <= limit:
            return t - fault_end
        t += 1
    return None


async def _dead_letters(nats_url: str) -> int:
    nc = await nats.connect(nats_url)
    try:
        return (await nc.jetstream().stream_info(DLQ_STREAM)).state.messages
    finally:
        await nc.close()


def dead_letters(stack: Stack) -> int:
    """Messages in the dead-letter stream now (retried while NATS is coming back)."""
    for _ in range(60):
        try:
            return asyncio.run(_dead_letters(stack.nats_url))
        except Exception:
            time.sleep(1)
    raise RuntimeError("NATS did not answer for a minute")


def settle(stack: Stack, lead_ids: list[str], *, timeout: float = 180) -> tuple[int, int]:
    """Wait until every lead is notified (or the timeout); (lost, doubled)."""
    url, key = stack.info["gateway_url"], stack.api_key
    deadline = time.monotonic() + timeout
    pending = set(lead_ids)
    doubled: set[str] = set()
    with httpx.Client(base_url=url, timeout=15) as client:
        while pending and time.monotonic() < deadline:
            for lead_id in list(pending):
                try:
                    response = client.get(f"/v1/leads/{lead_id}", headers={"Authorization": f"Bearer {key}"})
                except httpx.TransportError:
                    continue
                if response.status_code != 200:
                    continue
                steps = [e["step"] for e in response.json()["timeline"]]
                if steps.count("assigned") > 1 or steps.count("notified") > 1:
                    doubled.add(lead_id)
                if steps.count("notified") >= 1:
                    pending.discard(lead_id)
            if pending:
                time.sleep(1)
    return len(pending), len(doubled)


def run_case(
    stack: Stack,
    name: str,
    fault: Callable[[Stack], list[str]],
    *,
    rate: float,
    seconds: float,
    warmup: float = 10.0,
    after: float = 0.0,
) -> Outcome:
    """Load for `seconds` (and `after` seconds past the fault's end at least), `fault` after `warmup`.

    `fault` returns the processes it restarted itself (the others must not have exited).
    """
    outcome = Outcome(name)
    dead_before = dead_letters(stack)
    pids = {p: stack.pid(p) for p in PROCESSES}
    with CaptureLoad(stack, rate=rate) as load:
        begin = time.monotonic()
        time.sleep(warmup)
        fault_start = time.monotonic()
        restarted = fault(stack)
        fault_end = time.monotonic()
        time.sleep(max(after, seconds - (fault_end - begin)))
        end = time.monotonic()
    outcome.fault_seconds = fault_end - fault_start
    baseline = load.p99(begin, fault_start) or 0.1
    lead_ids = list(load.accepted)
    outcome.accepted = len(lead_ids)
    outcome.lost, outcome.doubled = settle(stack, lead_ids)
    outcome.recovery_seconds = recovery_after(load, baseline=baseline, fault_end=fault_end, until=end)
    outcome.dead_letters = dead_letters(stack) - dead_before
    outcome.exited_on_their_own = sum(
        1 for p in PROCESSES if p not in restarted and (not stack.running(p) or stack.pid(p) != pids[p])
    )
    return outcome


def kill_and_restart(*names: str) -> Callable[[Stack], list[str]]:
    """kill -9 of each process in turn, started again at once (as a kubelet would), 5 s apart."""

    def fault(stack: Stack) -> list[str]:
        for name in names:
            stack.kill(name, signal.SIGKILL)
            stack.start_service(name)
            time.sleep(5)
        return list(names)

    return fault


def restart_nats(stack: Stack) -> list[str]:
    stack.restart_service("nats")
    return []


def stop_postgres(seconds: float) -> Callable[[Stack], list[str]]:
    """PostgreSQL stopped for `seconds` (longer than a failover), then started."""

    def fault(stack: Stack) -> list[str]:
        stack.stop_service("postgres")
        time.sleep(seconds)
        stack.start_service("postgres")
        return []

    return fault


def restart_postgres(stack: Stack) -> list[str]:
    stack.restart_service("postgres")
    return []
