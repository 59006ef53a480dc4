"""Where one capture's time goes: the spans of single leads captured one at a time on the local stack.

`python -m tools.bench.capture_trace [--leads 30] [--gap 0.2]` starts the whole stack (tools.devstack.Stack)
exporting its spans to an in-memory OTLP receiver, posts `POST /v1/leads` one at a time (`--gap` seconds apart,
0 for back to back), and prints for the median lead its trace as a waterfall (service, span, start offset and
duration from the edge's server span), then per span name the median duration over all leads. This is the
latency floor of a capture: what one lead costs with nothing queued in front of it. Figures only.

A gap between leads leaves the machine idle, so every process and PostgreSQL backend is woken up for each hop
(on a VM that wake-up alone costs a fraction of a millisecond); `--gap 0` shows the floor on a warm machine.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import defaultdict
from pathlib import Path

from tools.devstack import Stack
from tools.devstack.otlp import OtlpReceiver, SpanRecord
from tools.devstack.procs import free_port

from .bare_chain import lead_form_body


def _post(url: str, api_key: str, body: bytes) -> tuple[float, str]:
    """POST one lead; (seconds, trace id of the lead)."""
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"},
    )
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            reply = json.loads(response.read())
    except urllib.error.HTTPError as err:
        raise RuntimeError(f"POST /v1/leads answered {err.code}: {err.read().decode(errors='replace')[:500]}") from err
    return time.perf_counter() - started, reply["trace_id"]


def _tree_order(spans: list[SpanRecord]) -> list[tuple[int, SpanRecord]]:
    """The spans depth-first from the root, children by start time, each with its depth."""
    children: dict[str, list[SpanRecord]] = defaultdict(list)
    ids = {s.span_id for s in spans}
    roots = []
    for span in spans:
        if span.parent_span_id and span.parent_span_id in ids:
            children[span.parent_span_id].append(span)
        else:
            roots.append(span)
    ordered: list[tuple[int, SpanRecord]] = []

    def walk(span: SpanRecord, depth: int) -> None:
        ordered.append((depth, span))
        for child in sorted(children[span.span_id], key=lambda s: s.start_ns):
            walk(child, depth + 1)

    for root in sorted(roots, key=lambda s: s.start_ns):
        walk(root, 0)
    return ordered


def waterfall(spans: list[SpanRecord]) -> list[str]:
    """One trace as lines: offset and duration in ms from the earliest span, indented by depth."""
    origin = min(s.start_ns for s in spans)
    lines = []
    for depth, span in _tree_order(spans):
        offset = (span.start_ns - origin) / 1e6
        duration = (span.end_ns - span.start_ns) / 1e6
        label = f"{'  ' * depth}{span.service}: {span.name}"
        lines.append(f"  {offset:7.2f} +{duration:7.2f} ms  {label[:110]}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=30, help="leads captured, one at a time")
    parser.add_argument("--gap", type=float, default=0.2, help="seconds between two captures (0: back to back)")
    parser.add_argument("--warmup", type=int, default=10, help="captures before measuring")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    overrides = {"CRM_LOG_LEVEL": "WARNING", "OTEL_BSP_SCHEDULE_DELAY": "200"}
    # The receiver starts after the stack: its gRPC threads would otherwise be running while the stack forks
    # its processes. The services' exporters retry until it listens.
    receiver = OtlpReceiver(port=free_port())
    with tempfile.TemporaryDirectory(prefix="crm-capture-trace-") as tmp:
        stack = Stack(Path(tmp) / "stack", otlp_endpoint=f"http://127.0.0.1:{receiver._requested_port}", env_overrides=overrides, log_level="WARNING")
        try:
            info = stack.start()
            receiver.start()
            url = info["gateway_url"] + "/v1/leads"
            for seq in range(args.warmup):
                _post(url, info["api_key"], lead_form_body(seq))
            measured: list[tuple[float, str]] = []
            for seq in range(args.warmup, args.warmup + args.leads):
                time.sleep(args.gap)
                measured.append(_post(url, info["api_key"], lead_form_body(seq)))
            wanted = {trace_id for _, trace_id in measured}
            # The assigned event's consumer spans arrive last; give the exporters time to flush.
            time.sleep(2.0)
            by_trace: dict[str, list[SpanRecord]] = defaultdict(list)
            for span in receiver.spans():
                if span.trace_id in wanted:
                    by_trace[span.trace_id].append(span)
        except RuntimeError:
            for log in sorted(stack.logs_dir.glob("*.log")):
                errors = [line for line in log.read_text(errors="replace").splitlines() if "ERROR" in line]
                if errors:
                    print(f"{log.name}: {errors[-1][-1500:]}", file=sys.stderr)
            raise
        finally:
            stack.stop()
            receiver.stop()
    times = sorted(seconds for seconds, _ in measured)
    print(
        f"capture trace: {args.leads} leads one at a time, {args.gap:g} s apart; POST /v1/leads answered in "
        f"p50 {1000 * statistics.median(times):.1f} ms, min {1000 * times[0]:.1f}, max {1000 * times[-1]:.1f} ms "
        "(client: urllib, one connection per request)"
    )
    median_lead = sorted(measured)[len(measured) // 2][1]
    if by_trace.get(median_lead):
        print("\nthe median lead's trace (offset from its first span, duration):")
        print("\n".join(waterfall(by_trace[median_lead])))
    durations: dict[tuple[str, str], list[float]] = defaultdict(list)
    for spans in by_trace.values():
        per_trace: dict[tuple[str, str], float] = defaultdict(float)
        for span in spans:
            per_trace[(span.service, span.name)] += (span.end_ns - span.start_ns) / 1e6
        for key, total in per_trace.items():
            durations[key].append(total)
    print(f"\nper span name, summed within a trace, median over {len(by_trace)} traces (ms):")
    for (service, name), values in sorted(durations.items(), key=lambda kv: -statistics.median(kv[1]))[:40]:
        print(f"  {statistics.median(values):7.2f}  {service}: {name[:90]}  (in {len(values)} traces)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
