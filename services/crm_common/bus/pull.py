"""A durable pull consumer's messages as they are published, through one pull request kept open at a time."""

from __future__ import annotations

import asyncio
import collections
import json
import logging

from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext, api

log = logging.getLogger(__name__)
# How long one pull request waits on the server for messages; a new one follows at once. Long, as it only
# bounds how stale a request lost with its connection could get if the reconnect went unnoticed.
REQUEST_EXPIRES_SECONDS = 30.0
_STATUS = api.Header.STATUS
_DESCRIPTION = api.Header.DESCRIPTION
_TRANSIENT = ("Server Shutdown", "Leadership Change")


class PullFeed:
    """Messages of one durable consumer, fed by a pull request that stays open until it has delivered its batch.

    `fetch()` on a pull subscription costs a request, a wait for its first message and a status message that
    ends it, for every batch: at a moderate rate, for every message. Here one request of `batch` messages serves
    many batches: whatever the server delivers while the previous batch is being applied is already here, and
    the next request goes out as soon as this one is used up, expired, or ended by the server (or the connection
    was re-established, which loses it on the server). Delivered messages not taken when the feed closes are
    nak'd, so they are redelivered at once rather than after the ack wait.
    """

    def __init__(self, js: JetStreamContext, *, stream: str, durable: str, batch: int) -> None:
        # nats-py exposes neither a JetStream context's connection nor its API prefix; its own pull
        # subscriptions read the same two attributes.
        self._nc = js._nc
        self._next_subject = f"{js._prefix}.CONSUMER.MSG.NEXT.{stream}.{durable}"
        self._request = json.dumps(
            {"batch": batch, "expires": int(REQUEST_EXPIRES_SECONDS * 1_000_000_000)}, separators=(",", ":")
        ).encode()
        self._batch = batch
        self._inbox = self._nc.new_inbox()
        self._sub: Subscription | None = None
        self._queue: collections.deque[Msg] = collections.deque()
        self._waiter: asyncio.Future[None] | None = None
        self._outstanding = 0  # messages the open request may still deliver
        self._expires_at = 0.0
        self._reconnects = -1
        self._ended: str | None = None  # why the server ended a request in a way that needs a new feed

    async def open(self) -> None:
        self._sub = await self._nc.subscribe(self._inbox, cb=self._received)

    async def close(self) -> None:
        """Stop receiving; what was delivered and not taken goes back to the server for redelivery."""
        if self._sub is not None:
            sub, self._sub = self._sub, None
            try:
                await sub.drain()  # what already reached the client joins the queue, to be returned below
            except Exception:
                await sub.unsubscribe()
        while self._queue:
            msg = self._queue.popleft()
            try:
                await msg.nak()
            except Exception as err:  # NATS down: the ack wait expires and the message comes back anyway
                log.debug("could not return a message: %s", err)

    def queued(self) -> list[Msg]:
        """The messages delivered and not taken yet (without asking for more)."""
        return list(self._queue)

    async def take(self, limit: int, *, wait: float) -> list[Msg]:
        """Up to `limit` messages in delivery order; waits up to `wait` when none is here yet."""
        loop = asyncio.get_running_loop()
        if not self._queue:
            self._raise_if_ended()
            await self._keep_requested(loop)
            waiter = self._waiter = loop.create_future()
            timer = loop.call_later(wait, _wake, waiter)
            try:
                await waiter
            finally:
                timer.cancel()
                self._waiter = None
            self._raise_if_ended()
        taken = [self._queue.popleft() for _ in range(min(limit, len(self._queue)))]
        # Keep a request open while these are applied, so the next messages are here when they are done.
        await self._keep_requested(loop)
        return taken

    def _raise_if_ended(self) -> None:
        if self._ended is not None and not self._queue:
            reason, self._ended = self._ended, None
            raise ConnectionError(f"the server ended the pull request: {reason}")

    async def _keep_requested(self, loop: asyncio.AbstractEventLoop) -> None:
        reconnects = self._nc.stats["reconnects"]
        if self._outstanding > 0 and loop.time() < self._expires_at and reconnects == self._reconnects:
            return
        self._outstanding = self._batch
        self._expires_at = loop.time() + REQUEST_EXPIRES_SECONDS + 1.0
        self._reconnects = reconnects
        await self._nc.publish(self._next_subject, self._request, reply=self._inbox)

    async def _received(self, msg: Msg) -> None:
        headers = msg.headers
        status = headers.get(_STATUS) if headers else None
        if status is None:
            self._queue.append(msg)
            self._outstanding -= 1
        elif status == "100":  # an idle heartbeat: none are asked for
            return
        else:
            # The request is over. Expired (408), nothing to deliver (404), or the server going away (409 Server
            # Shutdown, Leadership Change): the next take asks again. Anything else (409 Consumer Deleted or a
            # limit exceeded, 503 no JetStream) is raised by the next take that finds nothing to return, so the
            # consumer starts over after a pause instead of asking again in a loop.
            self._outstanding = 0
            description = (headers.get(_DESCRIPTION) or "") if headers else ""
            if status not in ("404", "408") and description not in _TRANSIENT:
                self._ended = f"{status} {description}".strip()
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
