"""gRPC of outbound subscriptions: create, read, rotate, deliveries, recover, replay."""

from __future__ import annotations

import base64
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, timedelta

import grpc
from sqlalchemy import Row

from crm.integration.v1 import integration_pb2
from crm_common.egress import EgressGuard
from crm_common.errors import FieldViolation, InvalidArgument, NotFound, nul_violations
from crm_common.service import Runtime
from integration_gateway.convert import ts
from integration_gateway.outbound import repository
from integration_gateway.outbound.domain import subscription_violations
from integration_gateway.tables import DEAD, PENDING, SUCCEEDED

STATUSES = {"failed": DEAD, "succeeded": SUCCEEDED, "pending": PENDING}


@dataclass
class OutboundContext:
    """What the subscription handlers need besides the database: the egress guard and the dispatcher's wake-up."""

    guard: EgressGuard
    wake: Callable[[], None]
    default_overlap_seconds: int


def new_secret() -> str:
    """A Standard Webhooks secret: whsec_ and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def subscription_to_proto(row: Row, *, secret: str = "") -> integration_pb2.Subscription:
    return integration_pb2.Subscription(
        id=str(row.id), url=row.url, events=row.events, description=row.description, secret=secret,
        status=row.status, disabled_reason=row.disabled_reason, created_at=ts(row.created_at),
        previous_secret_until=ts(row.previous_secret_until),
    )


def delivery_to_proto(row: Row) -> integration_pb2.Delivery:
    status = next(k for k, v in STATUSES.items() if v == row.status)
    return integration_pb2.Delivery(
        id=str(row.id), subscription_id=str(row.subscription_id), event_id=row.event_id, type=row.type,
        status=status, attempts=row.attempts, last_status_code=row.last_status_code, last_error=row.last_error,
        created_at=ts(row.created_at), next_attempt_at=ts(row.next_attempt_at) if row.status == PENDING else None,
        delivered_at=ts(row.delivered_at),
    )


def _uuid(value: str, field: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound(f"{field} {value!r} not found") from None


class SubscriptionHandlers:
    """The subscription RPCs."""

    runtime: Runtime
    outbound: OutboundContext

    async def _subscription(self, value: str) -> Row:
        async with self.runtime.db.connect() as conn:
            row = await repository.get_subscription(conn, subscription_id=_uuid(value, "subscription"))
        if row is None:
            raise NotFound(f"subscription {value} not found")
        return row

    async def CreateSubscription(
        self, request: integration_pb2.CreateSubscriptionRequest, context: grpc.aio.ServicerContext
    ) -> integration_pb2.CreateSubscriptionResponse:
        url, events = request.url.strip(), list(dict.fromkeys(e.strip() for e in request.events))
        description = request.description.strip()
        violations = nul_violations(request) or subscription_violations(url=url, events=events, description=description)
        if not violations:
            problem = await self.outbound.guard.url_problem(url)
            if problem:
                violations.append(FieldViolation("url", problem))
        if violations:
            raise InvalidArgument(violations)
        secret = new_secret()
        async with self.runtime.db.transaction() as conn:
            row = await repository.insert_subscription(
                conn, url=url, events=events, description=description, secret=secret
            )
        return integration_pb2.CreateSubscriptionResponse(subscription=subscription_to_proto(row, secret=secret))

    async def GetSubscription(
        self, request: integration_pb2.GetSubscriptionRequest, context: grpc.aio.ServicerContext
    ) -> integration_pb2.GetSubscriptionResponse:
        return integration_pb2.GetSubscriptionResponse(subscription=subscription_to_proto(await self._subscription(request.id)))

    async def RotateSubscriptionSecret(
        self, request: integration_pb2.RotateSubscriptionSecretRequest, context: grpc.aio.ServicerContext
    ) -> integration_pb2.RotateSubscriptionSecretResponse:
        if not 0 <= request.overlap_seconds <= 7 * 86400:
            raise InvalidArgument([FieldViolation("overlap_seconds", "between 0 and 604800 (7 days)")])
        overlap = timedelta(seconds=request.overlap_seconds or self.outbound.default_overlap_seconds)
        sid = (await self._subscription(request.id)).id
        secret = new_secret()
        async with self.runtime.db.transaction() as conn:
            row = await repository.rotate_secret(conn, subscription_id=sid, secret=secret, overlap=overlap)
        assert row is not None
        return integration_pb2.RotateSubscriptionSecretResponse(subscription=subscription_to_proto(row, secret=secret))

    async def ListDeliveries(
        self, request: integration_pb2.ListDeliveriesRequest, context: grpc.aio.ServicerContext
    ) -> integration_pb2.ListDeliveriesResponse:
        if request.status and request.status not in STATUSES:
            raise InvalidArgument([FieldViolation("status", "one of failed, succeeded, pending")])
        if not 0 <= request.limit <= 500:
            raise InvalidArgument([FieldViolation("limit", "between 1 and 500")])
        sid = (await self._subscription(request.subscription_id)).id
        async with self.runtime.db.connect() as conn:
            rows = await repository.list_deliveries(
                conn, subscription_id=sid, status=STATUSES.get(request.status), limit=request.limit or 100
            )
        return integration_pb2.ListDeliveriesResponse(deliveries=[delivery_to_proto(r) for r in rows])

    async def RecoverDeliveries(
        self, request: integration_pb2.RecoverDeliveriesRequest, context: grpc.aio.ServicerContext
    ) -> integration_pb2.RecoverDeliveriesResponse:
        if not request.HasField("since"):
            raise InvalidArgument([FieldViolation("since", "required")])
        sid = (await self._subscription(request.subscription_id)).id
        async with self.runtime.db.transaction() as conn:
            await repository.reactivate(conn, subscription_id=sid)
            rows = await repository.requeue(conn, subscription_id=sid, since=request.since.ToDatetime(tzinfo=UTC))
        self.outbound.wake()
        return integration_pb2.RecoverDeliveriesResponse(requeued=len(rows))

    async def ReplayDelivery(
        self, request: integration_pb2.ReplayDeliveryRequest, context: grpc.aio.ServicerContext
    ) -> integration_pb2.ReplayDeliveryResponse:
        sid = (await self._subscription(request.subscription_id)).id
        did = _uuid(request.delivery_id, "delivery")
        async with self.runtime.db.transaction() as conn:
            if await repository.get_delivery(conn, subscription_id=sid, delivery_id=did) is None:
                raise NotFound(f"delivery {request.delivery_id} not found")
            await repository.reactivate(conn, subscription_id=sid)
            [row] = await repository.requeue(conn, subscription_id=sid, delivery_id=did)
        self.outbound.wake()
        return integration_pb2.ReplayDeliveryResponse(delivery=delivery_to_proto(row))
