"""Every query of customer-master; functions take the caller's connection and keyword-only arguments."""

from __future__ import annotations

import uuid

from sqlalchemy import func, insert, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from customer_master.tables import customer_sources, customers

_KEY_COLUMNS = {
    "phone": customers.c.phone_e164,
    "email": customers.c.email_normalized,
    "company": customers.c.company_normalized,
}


async def lock_keys(conn: AsyncConnection, *, lock_names: list[str]) -> None:
    """Hold transaction-scoped advisory locks on match keys, so resolves sharing a key run one at a time."""
    for name in lock_names:
        await conn.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:name, 0))"), {"name": name})


async def find_customer_by_key(conn: AsyncConnection, *, key: str, value: str) -> Row | None:
    """The customer whose normalised key (phone, email or company) equals value."""
    return (await conn.execute(select(customers).where(_KEY_COLUMNS[key] == value))).first()


async def get_customer(conn: AsyncConnection, *, customer_id: uuid.UUID) -> Row | None:
    """One customer by id."""
    return (await conn.execute(select(customers).where(customers.c.id == customer_id))).first()


async def insert_customer(
    conn: AsyncConnection,
    *,
    name: str,
    company: str | None,
    company_normalized: str | None,
    phone_e164: str | None,
    email_normalized: str | None,
) -> Row:
    """Create a customer; returns the stored row."""
    return (
        await conn.execute(
            insert(customers)
            .values(
                id=uuid.uuid4(),
                name=name,
                company=company,
                company_normalized=company_normalized,
                phone_e164=phone_e164,
                email_normalized=email_normalized,
            )
            .returning(*customers.c)
        )
    ).one()


async def record_source(
    conn: AsyncConnection,
    *,
    customer_id: uuid.UUID,
    source_ref: str,
    name: str | None,
    company: str | None,
    phone: str | None,
    email: str | None,
    matched_on: str,
) -> None:
    """Remember that a source record resolved to a customer and the values it brought (first time only)."""
    await conn.execute(
        pg_insert(customer_sources)
        .values(
            id=uuid.uuid4(),
            customer_id=customer_id,
            source_ref=source_ref,
            name=name,
            company=company,
            phone=phone,
            email=email,
            matched_on=matched_on,
        )
        .on_conflict_do_nothing(index_elements=["customer_id", "source_ref"])
    )


async def list_sources(conn: AsyncConnection, *, customer_id: uuid.UUID) -> list[Row]:
    """The source records that resolved to a customer, oldest first."""
    return list(
        (
            await conn.execute(
                select(customer_sources)
                .where(customer_sources.c.customer_id == customer_id)
                .order_by(customer_sources.c.created_at, customer_sources.c.source_ref)
            )
        ).all()
    )


async def count_customers(conn: AsyncConnection) -> int:
    """How many customers exist."""
    return int(await conn.scalar(select(func.count()).select_from(customers)) or 0)
