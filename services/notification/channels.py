"""Delivery channels behind one adapter interface; the in-app inbox is the first adapter."""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar, Literal

from sqlalchemy.ext.asyncio import AsyncConnection

from notification import repository


@dataclass(frozen=True)
class OutgoingMessage:
    """What an adapter delivers: one rendered notification for one recipient."""

    notification_id: uuid.UUID
    # Passed on to providers that dedupe, so a retried send after a crash is not shown twice.
    idempotency_key: str
    recipient_id: str
    title: str
    body: str


@dataclass(frozen=True)
class DeliveryReport:
    """How far a channel got: `delivered` (the recipient has it) or `sent` (a provider accepted it)."""

    status: Literal["sent", "delivered"]
    detail: str = ""


class DeliveryFailed(Exception):
    """The channel did not take the message; `permanent` says whether trying again could help."""

    def __init__(
        self,
        reason: str,
        *,
        permanent: bool,
        uncertain: bool = False,
        retry_after: float | None = None,
        channel_down: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        # The request may have reached the provider (a read timeout, a dropped answer): resending is safe
        # only where the provider deduplicates by our send key.
        self.uncertain = uncertain
        # The provider said when to come back (HTTP Retry-After, a documented rate-limit window).
        self.retry_after = retry_after
        # The failure is the channel's, not the message's (credentials, outage): health marks it degraded.
        self.channel_down = channel_down


class ChannelAdapter(ABC):
    """One delivery channel (in-app inbox now; WeCom, DingTalk, SMS, e-mail later)."""

    name: ClassVar[str]

    @abstractmethod
    async def deliver(self, conn: AsyncConnection, message: OutgoingMessage) -> DeliveryReport:
        """Deliver one message or raise DeliveryFailed.

        `conn` is the transaction that records the notification: an adapter whose effect is a row
        writes it there, so the message and its record commit (or vanish) together. Adapters that
        call out to a provider ignore it and rely on `message.idempotency_key` instead.
        """


class InAppInboxAdapter(ChannelAdapter):
    """Delivers by writing the message into the recipient's in-app inbox."""

    name = "in_app"

    async def deliver(self, conn: AsyncConnection, message: OutgoingMessage) -> DeliveryReport:
        inbox_message_id = await repository.insert_inbox_message(
            conn,
            recipient_id=message.recipient_id,
            notification_id=message.notification_id,
            title=message.title,
            body=message.body,
        )
        return DeliveryReport(status="delivered", detail=f"inbox message {inbox_message_id}")


def default_adapters() -> dict[str, ChannelAdapter]:
    """Every channel this process can deliver through, by name."""
    adapters: list[ChannelAdapter] = [InAppInboxAdapter()]
    return {adapter.name: adapter for adapter in adapters}
