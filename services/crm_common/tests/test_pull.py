"""PullFeed on a real nats-server: one open pull request serves many takes, and it recovers from what ends it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import nats
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext, api

from crm_common.bus import pull
from crm_common.bus.pull import PullFeed
from tools.devstack.infra import NatsServer

SUBJECT = "feed.events"


@pytest.fixture
async def js(fresh_nats: NatsServer) -> AsyncIterator[JetStreamContext]:
    nc = await nats.connect(fresh_nats.url, max_reconnect_attempts=-1, reconnect_time_wait=0.2)
    context = nc.jetstream()
    await context.add_stream(name="FEED", subjects=["feed.>"])
    await context.add_consumer(
        "FEED", api.ConsumerConfig(durable_name="reader", ack_policy=api.AckPolicy.EXPLICIT, ack_wait=30)
    )
    yield context
    await nc.close()


async def _publish(js: JetStreamContext, *bodies: str) -> None:
    for body in bodies:
        await js.publish(SUBJECT, body.encode())


def _requests(feed: PullFeed, nc: Client) -> list[bytes]:
    """Counts the pull requests the feed sends."""
    sent: list[bytes] = []
    publish = nc.publish

    async def counting(subject: str, payload: bytes = b"", reply: str = "", headers: dict | None = None) -> None:
        if subject.startswith("$JS.API.CONSUMER.MSG.NEXT."):
            sent.append(payload)
        await publish(subject, payload, reply=reply, headers=headers)

    feed._nc.publish = counting  # type: ignore[method-assign]
    return sent


async def _take_messages(feed: PullFeed, count: int, *, within: float = 10.0) -> list[Msg]:
    taken: list[Msg] = []
    deadline = asyncio.get_running_loop().time() + within
    while len(taken) < count:
        assert asyncio.get_running_loop().time() < deadline, f"only {len(taken)} taken"
        taken.extend(await feed.take(64, wait=0.5))
    return taken


async def _take_all(feed: PullFeed, count: int, *, within: float = 10.0) -> list[str]:
    """The payloads of `count` messages, each acked."""
    taken = await _take_messages(feed, count, within=within)
    for msg in taken:
        await msg.ack()
    return [msg.data.decode() for msg in taken]


async def test_one_open_request_serves_many_takes_and_a_burst_comes_whole(js: JetStreamContext) -> None:
    feed = PullFeed(js, stream="FEED", durable="reader", batch=64)
    await feed.open()
    requests = _requests(feed, js._nc)
    try:
        assert await feed.take(64, wait=0.2) == []  # asks, and waits: nothing yet
        # Delivered while the consumer is busy (applying the previous batch): all there for its next take.
        await _publish(js, "a", "b", "c")
        await asyncio.sleep(0.3)
        assert [m.data for m in await feed.take(64, wait=5)] == [b"a", b"b", b"c"]
        await _publish(js, "d")
        await _publish(js, "e")
        assert await _take_all(feed, 2) == ["d", "e"]
        assert len(requests) == 1  # five messages, three takes, one request
    finally:
        await feed.close()


async def test_a_new_request_follows_one_used_up_or_expired(
    js: JetStreamContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pull, "REQUEST_EXPIRES_SECONDS", 0.3)
    feed = PullFeed(js, stream="FEED", durable="reader", batch=2)
    await feed.open()
    requests = _requests(feed, js._nc)
    try:
        await _publish(js, "a", "b", "c")
        assert await _take_all(feed, 3) == ["a", "b", "c"]  # a batch of 2 used up: a second request
        assert len(requests) == 2
        await asyncio.sleep(0.8)  # the second request expires on the server (408)
        assert await feed.take(64, wait=0.1) == []
        await _publish(js, "d")
        assert await _take_all(feed, 1) == ["d"]
        assert len(requests) == 3
    finally:
        await feed.close()


@pytest.mark.parametrize("killed", [False, True], ids=["stopped", "killed"])
async def test_a_feed_asks_again_after_a_reconnect(js: JetStreamContext, fresh_nats: NatsServer, killed: bool) -> None:
    feed = PullFeed(js, stream="FEED", durable="reader", batch=64)
    await feed.open()
    try:
        assert await feed.take(64, wait=0.2) == []
        if killed:  # no word from the server (a stopping one ends the request with 409 Server Shutdown)
            assert fresh_nats.process is not None
            fresh_nats.process.kill_group()
        fresh_nats.stop()
        fresh_nats.start()
        for _ in range(100):  # the client reconnects by itself, and JetStream comes back a moment later
            with contextlib.suppress(Exception):
                await _publish(js, "after")
                break
            await asyncio.sleep(0.1)
        # The server forgot the request with the old connection; the feed notices the reconnect and asks again.
        assert await _take_all(feed, 1) == ["after"]
    finally:
        await feed.close()


async def test_closing_returns_what_was_delivered_but_not_taken(js: JetStreamContext) -> None:
    feed = PullFeed(js, stream="FEED", durable="reader", batch=64)
    await feed.open()
    assert await feed.take(2, wait=0.2) == []
    await _publish(js, "a", "b", "c", "d")
    await asyncio.sleep(0.3)
    taken = await feed.take(2, wait=2)
    assert [m.data for m in taken] == [b"a", b"b"]
    for msg in taken:
        await msg.ack()
    await feed.close()  # c and d were delivered to it: nak'd, so they come back now, not after the ack wait
    again = PullFeed(js, stream="FEED", durable="reader", batch=64)
    await again.open()
    try:
        msgs = await _take_messages(again, 2)
        assert sorted((m.data, m.metadata.num_delivered) for m in msgs) == [(b"c", 2), (b"d", 2)]
    finally:
        await again.close()


async def test_a_request_the_server_ends_for_good_is_raised(js: JetStreamContext) -> None:
    feed = PullFeed(js, stream="FEED", durable="reader", batch=64)
    await feed.open()
    try:
        with contextlib.suppress(ConnectionError):
            assert await feed.take(64, wait=0.2) == []
        await js.delete_consumer("FEED", "reader")
        with pytest.raises(ConnectionError, match="409"):
            for _ in range(20):
                await feed.take(64, wait=0.2)
    finally:
        await feed.close()
