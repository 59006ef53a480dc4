"""Outbound subscriptions: signed deliveries of our events, their dead letters, replay, recovery, secret rotation."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query

from crm.integration.v1 import integration_pb2
from crm_common.access import Action, Resource
from gateway.api.deps import IntegrationClientDep, canonical_id, permit
from gateway.convert import timestamp
from gateway.core.peers import CALL_DEADLINE_SECONDS
from gateway.core.security import Caller
from gateway.integration_schemas import (
    DeliveriesOut,
    DeliveryOut,
    RecoverIn,
    RecoverOut,
    RotateIn,
    SubscriptionIn,
    SubscriptionOut,
    from_proto,
)

router = APIRouter(prefix="/v1/subscriptions", tags=["subscriptions"])
CreateDep = Annotated[Caller, Depends(permit(Resource.SUBSCRIPTION, Action.CREATE))]
ReadDep = Annotated[Caller, Depends(permit(Resource.SUBSCRIPTION, Action.READ))]
ActDep = Annotated[Caller, Depends(permit(Resource.SUBSCRIPTION, Action.ACT))]


async def _subscription_id(subscription_id: Annotated[str, Path(description="The subscription's id (a UUID).")]) -> str:
    return canonical_id(subscription_id, "subscription")


async def _delivery_id(delivery_id: Annotated[str, Path(description="The delivery's id (a UUID).")]) -> str:
    return canonical_id(delivery_id, "delivery")


SubscriptionId = Annotated[str, Depends(_subscription_id)]
DeliveryId = Annotated[str, Depends(_delivery_id)]


@router.post("", status_code=201, response_model=SubscriptionOut)
async def create_subscription(body: SubscriptionIn, _caller: CreateDep, client: IntegrationClientDep) -> SubscriptionOut:
    """Subscribe a URL to event types; the answer carries the signing secret, once."""
    reply = await client.CreateSubscription(
        integration_pb2.CreateSubscriptionRequest(url=body.url, events=body.events, description=body.description or ""),
        timeout=CALL_DEADLINE_SECONDS,
    )
    return from_proto(SubscriptionOut, reply.subscription)


@router.get("/{subscription_id}", response_model=SubscriptionOut)
async def get_subscription(subscription_id: SubscriptionId, _caller: ReadDep, client: IntegrationClientDep) -> SubscriptionOut:
    """A subscription: its events, status (disabled after a 410 Gone) and rotation overlap."""
    reply = await client.GetSubscription(
        integration_pb2.GetSubscriptionRequest(id=subscription_id), timeout=CALL_DEADLINE_SECONDS
    )
    return from_proto(SubscriptionOut, reply.subscription)


@router.post("/{subscription_id}/rotate", response_model=SubscriptionOut)
async def rotate_secret(
    subscription_id: SubscriptionId, body: RotateIn, _caller: ActDep, client: IntegrationClientDep
) -> SubscriptionOut:
    """A new secret; deliveries carry both signatures until the overlap ends."""
    reply = await client.RotateSubscriptionSecret(
        integration_pb2.RotateSubscriptionSecretRequest(id=subscription_id, overlap_seconds=body.overlap_seconds or 0),
        timeout=CALL_DEADLINE_SECONDS,
    )
    return from_proto(SubscriptionOut, reply.subscription)


@router.get("/{subscription_id}/deliveries", response_model=DeliveriesOut)
async def list_deliveries(
    subscription_id: SubscriptionId,
    _caller: ReadDep,
    client: IntegrationClientDep,
    status: Annotated[Literal["failed", "succeeded", "pending"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> DeliveriesOut:
    """A subscription's deliveries, newest first; `failed` are the dead letters."""
    reply = await client.ListDeliveries(
        integration_pb2.ListDeliveriesRequest(subscription_id=subscription_id, status=status or "", limit=limit),
        timeout=CALL_DEADLINE_SECONDS,
    )
    return DeliveriesOut(deliveries=[from_proto(DeliveryOut, d) for d in reply.deliveries])


@router.post("/{subscription_id}/recover", response_model=RecoverOut)
async def recover(
    subscription_id: SubscriptionId, body: RecoverIn, _caller: ActDep, client: IntegrationClientDep
) -> RecoverOut:
    """Send again every failed delivery of the endpoint created since a time (and enable it again)."""
    reply = await client.RecoverDeliveries(
        integration_pb2.RecoverDeliveriesRequest(subscription_id=subscription_id, since=timestamp(body.since)),
        timeout=CALL_DEADLINE_SECONDS,
    )
    return RecoverOut(requeued=reply.requeued)


@router.post("/{subscription_id}/deliveries/{delivery_id}/replay", response_model=DeliveryOut)
async def replay(
    subscription_id: SubscriptionId, delivery_id: DeliveryId, _caller: ActDep, client: IntegrationClientDep
) -> DeliveryOut:
    """Send one delivery again (a dead letter, or one the receiver lost)."""
    reply = await client.ReplayDelivery(
        integration_pb2.ReplayDeliveryRequest(subscription_id=subscription_id, delivery_id=delivery_id),
        timeout=CALL_DEADLINE_SECONDS,
    )
    return from_proto(DeliveryOut, reply.delivery)
