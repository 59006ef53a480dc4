"""`python -m tools.faults` (`make faults`): every fault case against a fresh dev stack, one line of figures each."""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile

from tools.devstack import Stack
from tools.faults.suite import PROCESSES, kill_and_restart, restart_nats, restart_postgres, run_case, stop_postgres


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=5.0, help="captures per second (half the measured saturation)")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each case under load")
    parser.add_argument("--postgres-outage", type=float, default=60.0, help="seconds PostgreSQL stays stopped")
    parser.add_argument("--cases", default="kill,nats,postgres-stop,postgres-restart", help="comma-separated")
    parser.add_argument("--kill", default=",".join(PROCESSES), help="processes the kill case kills, in turn")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    cases = {
        "kill": [(f"kill -9 {p}", kill_and_restart(p)) for p in args.kill.split(",")],
        "nats": [("NATS restarted", restart_nats)],
        "postgres-stop": [(f"PostgreSQL stopped {args.postgres_outage:.0f} s", stop_postgres(args.postgres_outage))],
        "postgres-restart": [("PostgreSQL restarted", restart_postgres)],
    }
    failed = 0
    with tempfile.TemporaryDirectory(prefix="crm-faults-") as workdir, Stack(workdir) as stack:
        for key in args.cases.split(","):
            for name, fault in cases[key]:
                outcome = run_case(stack, name, fault, rate=args.rate, seconds=max(args.seconds, 1.0), after=30.0)
                print(outcome.line(), flush=True)
                failed += not outcome.passed
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
