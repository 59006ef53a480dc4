"""Resolving the customer behind a lead: match on the strongest key, or create the customer."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.engine import Row

from crm.events.v1 import customer_events_pb2
from crm_common.errors import InvalidArgument
from crm_common.metrics import CUSTOMERS_RESOLVED
from crm_common.service import Runtime
from customer_master import repository
from customer_master.convert import to_timestamp
from customer_master.domain import match_keys, validate_keys

log = logging.getLogger(__name__)

CUSTOMER_CREATED = "crm.customer.created"


@dataclass(frozen=True)
class ResolveRequest:
    """What a caller knows about a customer (phone in E.164) and which record asks."""

    name: str = ""
    company: str = ""
    phone: str = ""
    email: str = ""
    source_ref: str = ""


@dataclass(frozen=True)
class Resolution:
    """The customer found or created, and how."""

    customer: Row
    created: bool
    matched_on: str


async def resolve_customer(runtime: Runtime, request: ResolveRequest) -> Resolution:
    """Find the customer by phone, then email, then company; create it (and announce it) when none matches."""
    keys = match_keys(phone=request.phone, email=request.email, company=request.company)
    violations = validate_keys(keys)
    if violations:
        raise InvalidArgument(violations)
    async with runtime.db.transaction() as conn:
        # Locks on every key first: a concurrent resolve sharing any key waits, then finds what this one made.
        await repository.lock_keys(conn, lock_names=keys.lock_names())
        customer, matched_on = None, ""
        for key, value in keys.present():
            customer = await repository.find_customer_by_key(conn, key=key, value=value)
            if customer is not None:
                matched_on = key
                break
        created = customer is None
        if customer is None:
            customer = await repository.insert_customer(
                conn,
                name=request.name.strip(),
                company=request.company.strip() or None,
                company_normalized=keys.company,
                phone_e164=keys.phone,
                email_normalized=keys.email,
            )
            await runtime.stage(
                conn,
                CUSTOMER_CREATED,
                customer_events_pb2.CustomerCreated(
                    customer_id=str(customer.id),
                    source_ref=request.source_ref,
                    created_at=to_timestamp(customer.created_at),
                ),
            )
        if request.source_ref:
            await repository.record_source(
                conn,
                customer_id=customer.id,
                source_ref=request.source_ref,
                name=request.name.strip() or None,
                company=request.company.strip() or None,
                phone=keys.phone,
                email=request.email.strip() or None,
                matched_on=matched_on or "created",
            )
    CUSTOMERS_RESOLVED.labels(matched_on or "created").inc()
    log.info(
        "customer resolved",
        extra={
            "customer_id": str(customer.id),
            "customer_created": created,
            "matched_on": matched_on,
            "source_ref": request.source_ref,
        },
    )
    return Resolution(customer=customer, created=created, matched_on=matched_on)
