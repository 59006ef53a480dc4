"""`python -m gateway` as the chart runs it: refuses bad keys at start, serves HTTP and metrics, stops on SIGTERM."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from gateway.tests.support import closed_port

ROOT = Path(__file__).resolve().parents[2]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CRM_", "OTEL_"))}
    identity = {"CRM_IDENTITY_KEY": "gateway-smoke-identity-key-0123456789abcdef"}
    return {**env, "PYTHONPATH": f"{ROOT / 'services'}{os.pathsep}{ROOT}", **identity, **extra}


def test_invalid_api_keys_stop_the_process_with_a_clear_message() -> None:
    bad = json.dumps([{"key_sha256": "ab" * 32, "role": "sales_rep", "name": "secret-name"}])
    done = subprocess.run(
        [sys.executable, "-m", "gateway"], env=_env(CRM_API_KEYS=bad), capture_output=True, text=True, timeout=30
    )
    assert done.returncode != 0
    assert "invalid configuration" in done.stderr and "CRM_API_KEYS" in done.stderr and "rep_id" in done.stderr
    assert "ab" * 32 not in done.stderr


def test_serves_health_and_metrics_then_stops_on_sigterm() -> None:
    http_port, metrics_port = closed_port(), closed_port()
    key = "smoke-key-0123456789"
    keys = json.dumps([{"key_sha256": hashlib.sha256(key.encode()).hexdigest(), "role": "admin"}])
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway"],
        env=_env(CRM_API_KEYS=keys, CRM_HTTP_PORT=str(http_port), CRM_METRICS_PORT=str(metrics_port),
                 CRM_LEAD_ADDR=f"127.0.0.1:{closed_port()}"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                live = httpx.get(f"http://127.0.0.1:{http_port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, "gateway did not start"
                time.sleep(0.1)
        assert live.status_code == 200 and "server" not in live.headers
        unauthorised = httpx.get(f"http://127.0.0.1:{http_port}/v1/teams", timeout=2)
        assert unauthorised.status_code == 401
        assert httpx.get(f"http://127.0.0.1:{http_port}/readyz", timeout=3).status_code == 503
        metrics = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=2).text
        assert 'crm_http_server_duration_seconds_count{http_request_method="GET",http_response_status_code="401",http_route="/v1/teams"}' in metrics
        assert 'crm_dependency_up{dependency="lead"} 0.0' in metrics
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    output = proc.stdout.read().decode() if proc.stdout else ""
    assert '"service": "gateway"' in output and "gateway serving HTTP" in output
