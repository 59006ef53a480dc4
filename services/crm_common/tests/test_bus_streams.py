"""Streams as settings on real nats-servers: limits, dead letters kept 90 days, R3 surviving its leader's crash."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest
from nats.js import api
from nats.js.errors import APIError

from crm_common.bus.catalog import STREAMS
from crm_common.bus.streams import DAY_SECONDS, DLQ_STREAM, StreamSettings, ensure_streams
from tools.devstack.infra import NatsServer
from tools.faults.natscluster import NatsCluster


async def test_by_default_events_are_kept_14_days_and_dead_letters_90(fresh_nats: NatsServer) -> None:
    nc = await nats.connect(fresh_nats.url)
    try:
        js = nc.jetstream()
        await ensure_streams(js, StreamSettings())
        lead = (await js.stream_info("CRM_LEAD")).config
        dlq = (await js.stream_info(DLQ_STREAM)).config
        assert lead.max_age == 14 * DAY_SECONDS
        assert dlq.max_age == 90 * DAY_SECONDS
        assert lead.discard == api.DiscardPolicy.NEW
        assert lead.num_replicas == 1
    finally:
        await nc.close()


async def test_changed_settings_apply_to_existing_streams_and_keep_their_events(
    fresh_nats: NatsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    nc = await nats.connect(fresh_nats.url)
    try:
        js = nc.jetstream()
        await ensure_streams(js, StreamSettings())
        await js.publish("crm.lead.captured", b"kept", headers={"Nats-Msg-Id": "kept-1"})
        monkeypatch.setenv("CRM_STREAM_MAX_BYTES", "1048576")
        monkeypatch.setenv("CRM_STREAM_MAX_AGE_SECONDS", str(3 * DAY_SECONDS))
        monkeypatch.setenv("CRM_DLQ_MAX_AGE_SECONDS", str(120 * DAY_SECONDS))
        await ensure_streams(js)  # as a service at start: its environment changes no existing stream
        assert (await js.stream_info("CRM_LEAD")).config.max_bytes == -1
        await ensure_streams(js, update=True)  # as the streams Job
        lead = await js.stream_info("CRM_LEAD")
        assert lead.config.max_bytes == 1048576
        assert lead.config.max_age == 3 * DAY_SECONDS
        assert lead.state.messages == 1
        assert (await js.stream_info(DLQ_STREAM)).config.max_age == 120 * DAY_SECONDS
        assert (await js.stream_info(DLQ_STREAM)).config.max_bytes == -1
    finally:
        await nc.close()


async def test_a_full_stream_refuses_new_events_and_keeps_the_old(fresh_nats: NatsServer) -> None:
    nc = await nats.connect(fresh_nats.url)
    try:
        js = nc.jetstream()
        await ensure_streams(js, StreamSettings(stream_max_bytes=4096))
        published = 0
        with pytest.raises(APIError, match="maximum bytes"):
            for n in range(100):
                await js.publish("crm.lead.captured", b"x" * 500, headers={"Nats-Msg-Id": f"fill-{n}"})
                published += 1
        info = await js.stream_info("CRM_LEAD")
        assert 0 < published < 100
        assert info.state.messages == published
        assert info.state.first_seq == 1  # nothing old was dropped to make room
    finally:
        await nc.close()


def test_stream_settings_refuse_bad_values_naming_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_STREAM_REPLICAS", "0")
    with pytest.raises(ValueError, match="stream_replicas"):
        StreamSettings()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[NatsCluster]:
    nodes = NatsCluster(tmp_path / "nats-cluster")
    nodes.start()
    try:
        yield nodes
    finally:
        nodes.stop()


async def test_r3_streams_survive_a_kill_of_their_leader(cluster: NatsCluster) -> None:
    nc = await nats.connect(servers=cluster.url.split(","), max_reconnect_attempts=-1, reconnect_time_wait=0.2)
    try:
        js = nc.jetstream(timeout=10)
        await _retry(lambda: ensure_streams(js, StreamSettings(stream_replicas=3)))
        for name in STREAMS:
            assert (await _retry(lambda name=name: js.stream_info(name))).config.num_replicas == 3
        for n in range(50):
            await _retry(
                lambda n=n: js.publish("crm.lead.captured", f"{n}".encode(), headers={"Nats-Msg-Id": f"r3-{n}"})
            )
        leader = cluster.stream_leader("CRM_LEAD")
        cluster.node(leader).kill()
        # Acknowledged before the crash or after it: every event is there once, under a new leader.
        for n in range(50, 100):
            await _retry(
                lambda n=n: js.publish("crm.lead.captured", f"{n}".encode(), headers={"Nats-Msg-Id": f"r3-{n}"})
            )
        assert cluster.stream_leader("CRM_LEAD") != leader
        sub = await _retry(lambda: js.pull_subscribe("crm.lead.captured", durable="r3-reader", stream="CRM_LEAD"))
        seen: list[int] = []
        while len(seen) < 100:
            for msg in await _retry(lambda: sub.fetch(100, timeout=5)):
                seen.append(int(msg.data))
                await msg.ack()
        assert sorted(seen) == list(range(100))
    finally:
        await nc.close()


async def _retry(call, attempts: int = 60):  # type: ignore[no-untyped-def]
    """A call retried while the cluster elects a leader (what the outbox relay and consumers do by themselves)."""
    for attempt in range(attempts):
        try:
            return await call()
        except Exception:
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(0.5)
    return None
