"""Evaluate every dashboard panel query and alert expression against a real Prometheus scraping the local stack.

Starts the whole stack (tools.devstack.Stack), starts Debian's `prometheus` on loopback scraping every
process's metrics port (labels service=<name>, part_of=crm-backbone, as the ServiceMonitors give in
Kubernetes), puts a short load through the REST gateway (captures from several sources, claims, first
contacts, a webhook, a 404), then asks Prometheus's HTTP API for every panel query and alert expression:
none may fail, and every `core` panel must return data. It also checks that the lead histograms carry
trace-id exemplars (what the panels' trace links use). Run from the repository root:

    python -m tools.observability_check
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from tools.dashboards import DASHBOARDS
from tools.devstack import Stack, free_port

REPO = Path(__file__).resolve().parent.parent
ALERTS = REPO / "deploy" / "helm" / "crm" / "files" / "alerts"
SCRAPE_INTERVAL = "1s"
# Grafana's variables, as a dashboard with "All" selected would send them.
VARIABLES = {"$__rate_interval": "1m", "$__range": "5m", '"$service"': '".*"'}
CAPTURE_CHANNELS = ("web_form", "wechat", "trade_show", "referral")
LEADS_PER_CHANNEL = 3
DATA_DEADLINE = 90.0


@dataclass
class Outcome:
    """What one query returned."""

    where: str
    expr: str
    core: bool
    series: int = 0
    error: str = ""


class Prometheus:
    """Debian's prometheus binary on loopback, scraping the stack's metrics ports."""

    def __init__(self, workdir: Path, targets: dict[str, str]) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config = workdir / "prometheus.yml"
        self.config.write_text(yaml.safe_dump(self._config(targets), sort_keys=False))
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = workdir / "prometheus.log"

    @staticmethod
    def _config(targets: dict[str, str]) -> dict[str, Any]:
        jobs = []
        for service, metrics_url in targets.items():
            address = metrics_url.removeprefix("http://").split("/", 1)[0]
            jobs.append(
                {
                    "job_name": service,
                    "scrape_interval": SCRAPE_INTERVAL,
                    "scrape_timeout": SCRAPE_INTERVAL,
                    "static_configs": [
                        {"targets": [address], "labels": {"service": service, "part_of": "crm-backbone"}}
                    ],
                }
            )
        return {"global": {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": "5s"}, "scrape_configs": jobs}

    def start(self) -> None:
        """Start the server and wait until it answers."""
        binary = shutil.which("prometheus")
        if binary is None:
            raise SystemExit("prometheus not found (run `make install`, which installs Debian's prometheus package)")
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [
                    binary,
                    f"--config.file={self.config}",
                    f"--storage.tsdb.path={self.workdir / 'tsdb'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--enable-feature=exemplar-storage",
                    "--storage.tsdb.retention.time=1h",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"prometheus exited {self.proc.returncode}:\n{self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise SystemExit(f"prometheus did not become ready:\n{self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        """Stop the server this check started."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def query(self, expr: str) -> tuple[int, str]:
        """(number of series, error) of an instant query."""
        response = httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=10)
        body = response.json()
        if body.get("status") != "success":
            return 0, f"{body.get('errorType')}: {body.get('error')}"
        return len(body["data"]["result"]), ""

    def exemplars(self, expr: str) -> list[dict[str, Any]]:
        """Exemplars of a series selector over the last 10 minutes."""
        now = time.time()
        response = httpx.get(
            f"{self.url}/api/v1/query_exemplars",
            params={"query": expr, "start": now - 600, "end": now},
            timeout=10,
        )
        body = response.json()
        if body.get("status") != "success":
            raise RuntimeError(f"exemplar query failed: {body.get('error')}")
        return [exemplar for series in body["data"] for exemplar in series["exemplars"]]


def substitute(expr: str) -> str:
    """A panel query as Grafana would send it, variables filled."""
    for variable, value in VARIABLES.items():
        expr = expr.replace(variable, value)
    return expr


def put_load(stack: Stack) -> dict[str, int]:
    """Captures from several sources, claims and first contacts, a webhook and a 404, through the gateway."""
    done = {"captured": 0, "contacted": 0, "webhooks": 0}
    admin = {"Authorization": f"Bearer {stack.api_key}"}
    with httpx.Client(base_url=stack.gateway_url, timeout=15) as api:
        leads = []
        for channel in CAPTURE_CHANNELS:
            for _ in range(LEADS_PER_CHANNEL):
                body = {
                    "name": "王芳",
                    "phone": f"+86 139 {uuid.uuid4().int % 10**8:08d}",
                    "company": "杭州某某科技有限公司",
                    "source": {"channel": channel, "utm_source": "observability-check"},
                }
                response = api.post("/v1/leads", json=body, headers=admin)
                response.raise_for_status()
                leads.append(response.json())
                done["captured"] += 1
        for lead in leads[::2]:
            rep = {"Authorization": f"Bearer {stack.rep_keys[lead['assignee_id']]}"}
            api.post(f"/v1/leads/{lead['id']}/claim", headers=rep).raise_for_status()
            api.post(
                f"/v1/leads/{lead['id']}/contacts", json={"channel": "phone", "summary": "首次电话"}, headers=rep
            ).raise_for_status()
            done["contacted"] += 1
        webhook = {"name": "李雷", "mobile": f"138{uuid.uuid4().int % 10**8:08d}", "company": "某某贸易"}
        if api.post("/v1/webhooks/landing-page", json=webhook, headers=admin).status_code < 300:
            done["webhooks"] += 1
        api.get(f"/v1/leads/{uuid.uuid4()}", headers=admin)  # a 404: the error ratio panels see a 4xx
    return done


def queries() -> list[tuple[str, str, bool]]:
    """(where, expr, core) of every panel target and alert expression."""
    found = [
        (f"{board.uid} / {panel.title}", substitute(query.expr), panel.core)
        for board in DASHBOARDS
        for panel in board.panels
        for query in panel.queries
    ]
    for path in sorted(ALERTS.glob("*.yaml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            found += [(f"alert {rule['alert']}", str(rule["expr"]), False) for rule in group["rules"]]
    return found


def evaluate(prometheus: Prometheus) -> list[Outcome]:
    """Ask Prometheus for every query until every core panel shows data (or the deadline passes)."""
    deadline = time.monotonic() + DATA_DEADLINE
    while True:
        outcomes = []
        for where, expr, core in queries():
            series, error = prometheus.query(expr)
            outcomes.append(Outcome(where, expr, core, series, error))
        waiting = [o for o in outcomes if o.core and not o.series and not o.error]
        if not waiting or time.monotonic() > deadline:
            return outcomes
        time.sleep(2)


def run(workdir: Path) -> int:
    """Start everything, load, evaluate, report; the exit status says whether every check passed."""
    started = time.monotonic()
    with Stack(workdir / "stack") as stack:
        print(f"stack up in {time.monotonic() - started:.1f}s: {len(stack.info['services'])} processes")
        targets = {name: entry["metrics"] for name, entry in stack.info["services"].items()}
        prometheus = Prometheus(workdir, targets)
        prometheus.start()
        try:
            load = put_load(stack)
            print(f"load: {load}")
            outcomes = evaluate(prometheus)
            exemplars = prometheus.exemplars("crm_lead_time_to_assignment_seconds_bucket")
            up, _ = prometheus.query('up{part_of="crm-backbone"} == 1')
        finally:
            prometheus.stop()
    failures = []
    for outcome in outcomes:
        core = outcome.core
        if outcome.error:
            failures.append(f"{outcome.where}: query error {outcome.error}\n     {outcome.expr}")
            status = "ERROR"
        elif core and not outcome.series:
            failures.append(f"{outcome.where}: core panel shows no data\n     {outcome.expr}")
            status = "EMPTY"
        else:
            status = f"{outcome.series} series" + (" (core)" if core else "")
        print(f"  {status:>18}  {outcome.where}")
    if up != len(targets):
        failures.append(f"{up} of {len(targets)} targets up")
    traced = [e for e in exemplars if len(e.get("labels", {}).get("trace_id", "")) == 32]
    print(f"exemplars with a trace_id on crm_lead_time_to_assignment_seconds: {len(traced)}")
    if not traced:
        failures.append("no trace_id exemplars on crm_lead_time_to_assignment_seconds (panels cannot link to traces)")
    panels = sum(1 for board in DASHBOARDS for _ in board.panels)
    print(
        f"{len(outcomes)} queries ({panels} panels in {len(DASHBOARDS)} dashboards, alerts), "
        f"{sum(1 for o in outcomes if o.core)} core, {up}/{len(targets)} targets up, "
        f"{time.monotonic() - started:.1f}s in all"
    )
    if failures:
        print("\nFAIL\n  " + "\n  ".join(failures))
        return 1
    print("all panel and alert queries evaluate; every core panel shows data")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the check in a temporary directory (kept with --keep for the logs)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, TSDB)")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="crm-observability-"))
    try:
        return run(workdir)
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
