"""`make dev`: run the whole system locally in the foreground until Ctrl+C (or SIGTERM)."""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import sys
import time
from pathlib import Path
from types import FrameType

from .procs import reap_leftovers
from .stack import REPO_ROOT, Stack, StackError

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class _Shutdown(Exception):
    """A stop signal arrived."""


def _raise_shutdown(signum: int, frame: FrameType | None) -> None:
    raise _Shutdown(signal.Signals(signum).name)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tools.devstack", description=__doc__)
    parser.add_argument("--workdir", type=Path, default=REPO_ROOT / ".dev", help="data, logs, stack.json")
    parser.add_argument(
        "--otlp-endpoint",
        default=os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or None,
        help="OTLP/gRPC endpoint the services export traces to (default: $OTEL_EXPORTER_OTLP_ENDPOINT)",
    )
    parser.add_argument("--log-level", default=os.environ.get("CRM_LOG_LEVEL", "INFO"))
    return parser.parse_args(argv)


def _summary(stack: Stack) -> str:
    info = stack.info
    key = info["api_key"]
    url = info["gateway_url"]
    rep_keys = ", ".join(f"{rep['name']}={info['rep_keys'][rep['id']]}" for rep in info["reps"])
    lines = [
        "",
        f"  gateway    {url}   (OpenAPI: {url}/openapi.json)",
        f"  admin key  {key}",
        f"  rep keys   {rep_keys}",
        f"  postgres   {info['postgres_url']}",
        f"  nats       {info['nats_url']}",
        f"  logs       {info['logs_dir']}/<service>.log",
        f"  details    {stack.stack_json}",
        "",
        "  try:",
        f"    curl -s -X POST {url}/v1/leads -H 'Authorization: Bearer {key}' \\",
        "      -H 'Content-Type: application/json' -H 'Idempotency-Key: demo-lead-1' \\",
        '      -d \'{"name": "陈静", "phone": "+8613800138000", "email": "chen.jing@example.com",'
        ' "source": {"channel": "web_form"}}\'',
        "",
        "  Ctrl+C stops everything.",
    ]
    return "\n".join(lines)


def _watch(stack: Stack) -> None:
    """Stay in the foreground; report once each process that exits on its own."""
    reported: set[str] = set()
    while True:
        for name, code in stack.status().items():
            if code is not None and name not in reported:
                reported.add(name)
                logging.getLogger("tools.devstack").warning(
                    "%s exited with code %s; last lines of %s:\n%s",
                    name,
                    code,
                    stack.log_path(name),
                    stack.log_tail(name, 15),
                )
        time.sleep(1.0)


def main(argv: list[str] | None = None) -> int:
    """Start the stack fresh in workdir, print how to use it, stop everything on SIGINT/SIGTERM/SIGHUP."""
    args = _parse(argv)
    logging.basicConfig(level=logging.INFO, format="devstack: %(message)s", stream=sys.stdout)
    log = logging.getLogger("tools.devstack")
    workdir: Path = args.workdir.resolve()
    stack = Stack(workdir, otlp_endpoint=args.otlp_endpoint, log_level=args.log_level)

    for sig in STOP_SIGNALS:
        signal.signal(sig, _raise_shutdown)
    code = 0
    try:
        leftovers = reap_leftovers(stack.pid_registry)
        if leftovers:
            log.info("killed leftovers of an earlier run: %s", ", ".join(leftovers))
        shutil.rmtree(workdir, ignore_errors=True)
        log.info("starting in %s (PostgreSQL, NATS, migrations, services, gateway)", workdir)
        stack.start()
        print(_summary(stack), flush=True)
        _watch(stack)
    except _Shutdown as exc:
        log.info("%s received; stopping", exc)
    except StackError as exc:
        log.error("%s", exc)
        code = 1
    finally:
        # A second Ctrl+C must not interrupt the stop half-way and leave processes behind.
        for sig in STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        started = time.monotonic()
        stack.stop(timeout=7.0, infra_timeout=2.0)
        log.info("stopped in %.1f s", time.monotonic() - started)
    return code


if __name__ == "__main__":
    sys.exit(main())
