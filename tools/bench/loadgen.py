"""A lean asyncio HTTP/1.1 load generator that also stamps, per request, the events its chain ends in.

It runs in a process of its own (LoadGenerator), so the CPU it uses is measured apart from everything else
and printed: a reader can tell whether the load generator, not the system under test, was the limit.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import resource
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from types import TracebackType
from typing import Literal
from urllib.parse import urlsplit

import psutil

BodyFactory = Callable[[int], bytes]
IdDecoder = Callable[[bytes], str]

UNSENT = "not sent (over schedule by more than overrun)"
UNANSWERED = "no answer"
ANSWER_TIMEOUT = 30.0
_NETWORK_ERRORS = (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError)


@dataclass(frozen=True)
class Target:
    """Where to POST, with what body (body(seq) for the seq-th request); the response's JSON `id` keys the chain."""

    host: str
    port: int
    path: str
    body: BodyFactory
    bearer: str | None = None

    @classmethod
    def at(cls, base_url: str, path: str, body: BodyFactory, bearer: str | None = None) -> Target:
        """A target on base_url (http://host:port)."""
        parts = urlsplit(base_url)
        return cls(parts.hostname or "127.0.0.1", parts.port or 80, path, body, bearer)


@dataclass(frozen=True)
class EventTap:
    """Core NATS subjects whose messages mark later steps of a chain: (label, subject, id decoder) each."""

    nats_url: str
    subjects: tuple[tuple[str, str, IdDecoder], ...]
    final: str

    def __post_init__(self) -> None:
        if self.final not in {label for label, _, _ in self.subjects}:
            raise ValueError(f"final label {self.final!r} is not one of the subjects")


@dataclass(frozen=True)
class Load:
    """One phase: closed loop (connections send back to back) or open loop (rate requests/s on a timer)."""

    mode: Literal["open", "closed"]
    duration: float
    connections: int
    rate: float = 0.0
    first_seq: int = 0
    grace: float = 30.0
    idle_grace: float = 5.0
    # A quiet window after the warm-up: what each process burns with no load (polls, probes, timers).
    idle_seconds: float = 5.0
    # Open loop: sends still queued this long after the schedule ended are dropped and counted, not sent.
    overrun: float = 5.0


@dataclass(frozen=True)
class Latency:
    """Percentiles of one latency, in milliseconds, measured from the intended send time."""

    count: int
    p50_ms: float | None
    p99_ms: float | None
    max_ms: float | None

    @classmethod
    def of(cls, values_ms: Sequence[float]) -> Latency:
        ordered = sorted(values_ms)
        if not ordered:
            return cls(0, None, None, None)
        return cls(len(ordered), percentile(ordered, 50), percentile(ordered, 99), ordered[-1])


@dataclass
class PhaseResult:
    """What one phase measured, the load generator's own CPU included."""

    load: Load
    sent: int
    ok: int
    errors: dict[str, int]
    error_samples: dict[str, str]
    load_seconds: float
    responses_per_second: float
    http: Latency
    events: dict[str, Latency]
    completed: int
    lost: int
    chains_per_second: float
    send_lag: Latency
    loadgen_cpu_seconds: float
    loadgen_cpu_percent: float
    extra: dict[str, float] = field(default_factory=dict)


def percentile(ordered: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of an ascending sequence."""
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


class HttpConnection:
    """One keep-alive HTTP/1.1 connection carrying one JSON POST at a time."""

    def __init__(self, target: Target) -> None:
        self.target = target
        auth = f"Authorization: Bearer {target.bearer}\r\n" if target.bearer else ""
        self._head = (
            f"POST {target.path} HTTP/1.1\r\nHost: {target.host}:{target.port}\r\n{auth}"
            "Content-Type: application/json\r\nContent-Length: "
        ).encode()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(self.target.host, self.target.port)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None

    async def post(self, body: bytes) -> tuple[int, bytes]:
        """Send one POST and return (status, body); raises on a broken connection."""
        if self._writer is None:
            await self.open()
        assert self._reader is not None and self._writer is not None
        self._writer.write(b"%s%d\r\n\r\n%s" % (self._head, len(body), body))
        status, length, chunked, close = _parse_head(await self._reader.readuntil(b"\r\n\r\n"))
        if chunked:
            payload = await self._read_chunked(self._reader)
        else:
            payload = await self._reader.readexactly(length) if length else b""
        if close:
            self.close()
        return status, payload

    @staticmethod
    async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0], 16)
            if size == 0:
                while await reader.readuntil(b"\r\n") != b"\r\n":
                    pass
                return b"".join(parts)
            parts.append((await reader.readexactly(size + 2))[:-2])


def _parse_head(head: bytes) -> tuple[int, int, bool, bool]:
    """Status, Content-Length, chunked?, close? of a response head."""
    lines = head.split(b"\r\n")
    version, _, rest = lines[0].partition(b" ")
    if not version.startswith(b"HTTP/1."):
        raise ValueError(f"not an HTTP/1.x response: {lines[0][:80]!r}")
    status = int(rest[:3])
    length, chunked, close = 0, False, version == b"HTTP/1.0"
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
        elif name == b"connection":
            close = b"close" in value.lower()
    return status, length, chunked, close


class _Record:
    __slots__ = ("done", "intended", "key", "sent", "status")

    def __init__(self, intended: float) -> None:
        self.intended = intended
        self.sent = intended
        self.done = 0.0
        self.status: int | str = UNANSWERED
        self.key: str | None = None


class _Phase:
    """One phase inside the load generator's process."""

    def __init__(self, target: Target, load: Load, tap: EventTap | None) -> None:
        self.target = target
        self.load = load
        self.tap = tap
        self.records: list[_Record] = []
        self.arrivals: dict[str, dict[str, float]] = {label: {} for label, _, _ in (tap.subjects if tap else ())}
        self.error_samples: dict[str, str] = {}
        self.bad_events = 0
        self._seq = load.first_seq
        self._cutoff = float("inf")

    def _next_body(self) -> bytes:
        seq = self._seq
        self._seq += 1
        return self.target.body(seq)

    async def run(self) -> PhaseResult:
        nc = None
        if self.tap is not None:
            import nats

            nc = await nats.connect(self.tap.nats_url, name="bench-loadgen", max_reconnect_attempts=-1)
            for label, subject, decoder in self.tap.subjects:
                await nc.subscribe(subject, cb=self._stamper(self.arrivals[label], decoder))
            await nc.flush()
        conns = [HttpConnection(self.target) for _ in range(self.load.connections)]
        await asyncio.gather(*(conn.open() for conn in conns))
        try:
            cpu0, wall0 = _cpu_self(), time.perf_counter()
            try:
                # Requests still unanswered this long after the load should have ended count as no answer.
                async with asyncio.timeout(self.load.duration + self.load.overrun + ANSWER_TIMEOUT):
                    if self.load.mode == "closed":
                        deadline = wall0 + self.load.duration
                        await asyncio.gather(*(self._closed(conn, deadline) for conn in conns))
                    else:
                        await self._open(conns)
            except TimeoutError:
                pass
            cpu1, wall1 = _cpu_self(), time.perf_counter()
            if self.tap is not None:
                await self._await_final()
        finally:
            for conn in conns:
                conn.close()
            if nc is not None:
                await nc.close()
        return self._result(cpu1 - cpu0, wall1 - wall0)

    def _stamper(self, store: dict[str, float], decoder: IdDecoder) -> Callable[..., object]:
        async def stamp(msg: object) -> None:
            at = time.perf_counter()
            try:
                key = decoder(msg.data)  # type: ignore[attr-defined]
            except Exception:
                self.bad_events += 1
                return
            store.setdefault(key, at)

        return stamp

    async def _closed(self, conn: HttpConnection, deadline: float) -> None:
        while (now := time.perf_counter()) < deadline:
            record = _Record(now)
            self.records.append(record)
            await self._issue(conn, record, self._next_body())

    async def _open(self, conns: list[HttpConnection]) -> None:
        queue: asyncio.Queue[float | None] = asyncio.Queue()
        workers = [asyncio.create_task(self._open_worker(conn, queue)) for conn in conns]
        total = round(self.load.rate * self.load.duration)
        start = time.perf_counter() + 0.005
        self._cutoff = start + self.load.duration + self.load.overrun
        for i in range(total):
            at = start + i / self.load.rate
            delay = at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            queue.put_nowait(at)
        for _ in workers:
            queue.put_nowait(None)
        await asyncio.gather(*workers)

    async def _open_worker(self, conn: HttpConnection, queue: asyncio.Queue[float | None]) -> None:
        while (at := await queue.get()) is not None:
            record = _Record(at)
            self.records.append(record)
            if time.perf_counter() > self._cutoff:
                record.status = UNSENT
                continue
            await self._issue(conn, record, self._next_body())

    async def _issue(self, conn: HttpConnection, record: _Record, body: bytes) -> None:
        record.sent = time.perf_counter()
        try:
            status, payload = await conn.post(body)
        except _NETWORK_ERRORS as err:
            record.done = time.perf_counter()
            record.status = type(err).__name__
            self.error_samples.setdefault(record.status, str(err)[:300])
            conn.close()
            await asyncio.sleep(0.05)  # a refused connection must not spin the loop
            return
        record.done = time.perf_counter()
        record.status = status
        if 200 <= status < 300:
            try:
                record.key = str(json.loads(payload)["id"])
            except (ValueError, KeyError, TypeError):
                record.status = "no id in response"
                self.error_samples.setdefault(record.status, payload[:300].decode(errors="replace"))
        else:
            self.error_samples.setdefault(str(status), payload[:300].decode(errors="replace"))

    async def _await_final(self) -> None:
        """Wait until every chain ended, no chain ended for idle_grace seconds, or grace ran out."""
        assert self.tap is not None
        wanted = {r.key for r in self.records if r.key}
        final = self.arrivals[self.tap.final]
        start = last_progress = time.perf_counter()
        last_done = -1
        while True:
            done = len(wanted & final.keys())
            now = time.perf_counter()
            if done == len(wanted) or now - start > self.load.grace or now - last_progress > self.load.idle_grace:
                return
            if done != last_done:
                last_done, last_progress = done, now
            await asyncio.sleep(0.1)

    def _result(self, cpu: float, wall: float) -> PhaseResult:
        ok = [r for r in self.records if r.key]
        errors: dict[str, int] = {}
        for r in self.records:
            if not r.key:
                errors[str(r.status)] = errors.get(str(r.status), 0) + 1
        events = {
            label: Latency.of([(arrived[r.key] - r.intended) * 1000 for r in ok if r.key in arrived])
            for label, arrived in self.arrivals.items()
        }
        completed, chains_per_second = 0, 0.0
        if self.tap is not None and self.records:
            final = self.arrivals[self.tap.final]
            ends = [final[r.key] for r in ok if r.key in final]
            completed = len(ends)
            if ends:
                chains_per_second = completed / (max(ends) - min(r.sent for r in self.records))
        load_seconds = (max(r.done for r in self.records) - min(r.sent for r in self.records)) if self.records else 0
        return PhaseResult(
            load=self.load,
            sent=len(self.records),
            ok=len(ok),
            errors=errors,
            error_samples=self.error_samples,
            load_seconds=load_seconds,
            responses_per_second=len(ok) / load_seconds if load_seconds else 0.0,
            http=Latency.of([(r.done - r.intended) * 1000 for r in ok]),
            events=events,
            completed=completed,
            lost=len(ok) - completed if self.tap is not None else 0,
            chains_per_second=chains_per_second,
            send_lag=Latency.of([(r.sent - r.intended) * 1000 for r in self.records if r.status != UNSENT]),
            loadgen_cpu_seconds=cpu,
            loadgen_cpu_percent=100 * cpu / wall if wall else 0.0,
            extra={"bad_events": float(self.bad_events)},
        )


def _cpu_self() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_phase(target: Target, load: Load, tap: EventTap | None = None) -> PhaseResult:
    """Run one phase on uvloop in the calling process (LoadGenerator calls it in its own)."""
    try:
        import uvloop

        loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = uvloop.new_event_loop
    except ImportError:
        loop_factory = None
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        return runner.run(_Phase(target, load, tap).run())


class LoadGenerator:
    """A process of its own that runs phases one after the other (spawned: no state forked from the caller)."""

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> LoadGenerator:
        self._pool = ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn"))
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    @property
    def pid(self) -> int:
        """Process id of the load generator's process."""
        if self._pool is None:
            raise RuntimeError("use LoadGenerator as a context manager")
        return self._pool.submit(os.getpid).result()

    def run(self, target: Target, load: Load, tap: EventTap | None = None) -> PhaseResult:
        """Run one phase in the load generator's process and return what it measured."""
        if self._pool is None:
            raise RuntimeError("use LoadGenerator as a context manager")
        return self._pool.submit(run_phase, target, load, tap).result()


def tree_cpu_seconds(pid: int | None) -> float:
    """User+system CPU seconds of a process and its descendants, reaped ones included (PostgreSQL backends)."""
    if pid is None:
        return 0.0
    try:
        root = psutil.Process(pid)
        tree = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0
    total = 0.0
    for proc in tree:
        try:
            times = proc.cpu_times()
        except psutil.Error:
            continue
        # A reaped child's time moves into its parent's children_* fields, so nothing counts twice.
        total += times.user + times.system + times.children_user + times.children_system
    return total


def machine_busy_seconds() -> float:
    """CPU seconds all cores of the machine spent busy since boot (not idle, not waiting for I/O)."""
    times = psutil.cpu_times()
    return sum(getattr(times, name, 0.0) for name in ("user", "nice", "system", "irq", "softirq", "steal"))


@dataclass
class CpuWindow:
    """CPU seconds per process of the system over a window, and what the rest of the machine used meanwhile."""

    wall_seconds: float
    seconds: dict[str, float]
    bench_seconds: float
    machine_busy_seconds: float
    # Busy CPU seconds of processes that are neither the system under test nor the benchmark.
    outside_seconds: float
    cores: int


class CpuMeter:
    """Measures a CpuWindow: the named processes, the benchmark's own processes and the whole machine."""

    def __init__(self, pids: dict[str, int | None], bench_pids: Sequence[int | None] = ()) -> None:
        self.pids = pids
        self.bench_pids = list(bench_pids)
        self._start: dict[str, float] = {}
        self._bench = self._machine = self._wall = 0.0

    def _bench_now(self) -> float:
        total = 0.0
        for pid in self.bench_pids:
            try:
                times = psutil.Process(pid).cpu_times()
            except (psutil.Error, ValueError):
                continue
            total += times.user + times.system
        return total

    def start(self) -> CpuMeter:
        self._start = {name: tree_cpu_seconds(pid) for name, pid in self.pids.items()}
        self._bench, self._machine, self._wall = self._bench_now(), machine_busy_seconds(), time.perf_counter()
        return self

    def stop(self) -> CpuWindow:
        seconds = {name: tree_cpu_seconds(pid) - self._start[name] for name, pid in self.pids.items()}
        bench = self._bench_now() - self._bench
        busy = machine_busy_seconds() - self._machine
        return CpuWindow(
            wall_seconds=time.perf_counter() - self._wall,
            seconds=seconds,
            bench_seconds=bench,
            machine_busy_seconds=busy,
            outside_seconds=max(0.0, busy - sum(seconds.values()) - bench),
            cores=psutil.cpu_count() or 1,
        )


@dataclass(frozen=True)
class Plan:
    """The phases of one benchmark: warm-up, open loop at rate (latency), closed loop (throughput)."""

    warmup_seconds: float = 5.0
    warmup_rate: float = 20.0
    rate: float = 100.0
    open_seconds: float = 20.0
    closed_seconds: float = 20.0
    connections: int = 32
    grace: float = 30.0
    idle_grace: float = 5.0
    # A quiet window after the warm-up: what each process burns with no load (polls, probes, timers).
    idle_seconds: float = 5.0


@dataclass
class PlanResult:
    """Every phase of a plan, with the CPU seconds each process of the system used in the measured ones."""

    warmup: PhaseResult
    open: PhaseResult | None = None
    closed: PhaseResult | None = None
    cpu_open: CpuWindow | None = None
    cpu_closed: CpuWindow | None = None
    cpu_idle: CpuWindow | None = None


class NothingCompleted(RuntimeError):
    """Not one chain completed during the warm-up."""


def run_plan(
    loadgen: LoadGenerator, target: Target, tap: EventTap, plan: Plan, pids: dict[str, int | None]
) -> PlanResult:
    """Warm up (raising NothingCompleted when no chain got through), then the open and closed loops."""
    warmup = loadgen.run(
        target, Load("open", plan.warmup_seconds, 8, plan.warmup_rate, 0, plan.grace, plan.idle_grace), tap
    )
    result = PlanResult(warmup)
    if warmup.completed == 0:
        raise NothingCompleted(describe_failure(warmup))
    bench_pids = [os.getpid(), loadgen.pid]
    if plan.idle_seconds > 0:
        meter = CpuMeter(pids, bench_pids).start()
        time.sleep(plan.idle_seconds)
        result.cpu_idle = meter.stop()
    meter = CpuMeter(pids, bench_pids).start()
    result.open = loadgen.run(
        target,
        Load("open", plan.open_seconds, plan.connections, plan.rate, 1_000_000, plan.grace, plan.idle_grace),
        tap,
    )
    result.cpu_open = meter.stop()
    meter = CpuMeter(pids, bench_pids).start()
    result.closed = loadgen.run(
        target, Load("closed", plan.closed_seconds, plan.connections, 0.0, 2_000_000, plan.grace, plan.idle_grace), tap
    )
    result.cpu_closed = meter.stop()
    return result


def describe_failure(phase: PhaseResult) -> str:
    """One line on what went wrong in a phase: errors by kind with a sample, or chains that never ended."""
    parts = [f"{phase.sent} sent, {phase.ok} answered 2xx, {phase.completed} chains completed"]
    for kind, count in sorted(phase.errors.items()):
        sample = phase.error_samples.get(kind, "")
        parts.append(f"{count}x {kind}" + (f" ({sample})" if sample else ""))
    for label, latency in phase.events.items():
        parts.append(f"{latency.count} {label} events")
    return "; ".join(parts)
