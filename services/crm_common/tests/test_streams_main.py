"""`python -m crm_common.bus.streams`, what the chart's hook Job runs: declares every stream, idempotently."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import nats
from nats.js import api

from crm_common.bus.catalog import STREAMS


async def run_streams_job(nats_url: str) -> tuple[int, str]:
    """Run the entry point as the Job would; (exit status, output)."""
    env = {**os.environ, "CRM_NATS_URL": nats_url}
    env.pop("CRM_NATS_CREDENTIALS", None)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "crm_common.bus.streams",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await proc.communicate()
    return proc.returncode or 0, output.decode()


async def test_the_streams_job_declares_every_stream_and_a_rerun_changes_nothing(fresh_nats) -> None:
    status, output = await run_streams_job(fresh_nats.url)
    assert status == 0, output
    nc = await nats.connect(fresh_nats.url)
    try:
        js = nc.jetstream()
        for name, subject in STREAMS.items():
            info = await js.stream_info(name)
            assert info.config.subjects == [subject]
            assert info.config.storage == api.StorageType.FILE
        await js.publish("crm.lead.captured", b"kept", headers={"Nats-Msg-Id": "streams-job-test"})
        status, output = await run_streams_job(fresh_nats.url)
        assert status == 0, output
        assert (await js.stream_info("CRM_LEAD")).state.messages == 1  # the rerun neither recreated nor purged
        assert all(f"stream {name} ready" in output for name in STREAMS)
    finally:
        await nc.close()


def test_the_streams_job_refuses_to_run_without_a_nats_url() -> None:
    env = {k: v for k, v in os.environ.items() if k != "CRM_NATS_URL"}
    result = subprocess.run(
        [sys.executable, "-m", "crm_common.bus.streams"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "CRM_NATS_URL is not set" in result.stderr
