"""Every query of customer-master; functions take the caller's connection and keyword-only arguments."""

from __future__ import annotations

import time
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from customer_master.tables import (
    change_requests,
    customer_changes,
    customer_grams,
    customer_sources,
    customers,
    match_reviews,
    match_settings,
    merges,
)

_KEY_COLUMNS = {
    "phone": customers.c.phone_e164,
    "email": customers.c.email_normalized,
    "company": customers.c.company_normalized,
    "credit_code": customers.c.credit_code,
}


async def lock_keys(conn: AsyncConnection, *, lock_names: list[str]) -> None:
    """Hold transaction-scoped advisory locks on match keys, so resolves sharing a key run one at a time."""
    for name in lock_names:
        await conn.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:name, 0))"), {"name": name})


async def find_customer_by_key(conn: AsyncConnection, *, key: str, value: str) -> Row | None:
    """The live customer whose normalised key (phone, email, company or credit code) equals value (merges followed)."""
    row = (await conn.execute(select(customers).where(_KEY_COLUMNS[key] == value).limit(1))).first()
    return await follow_merges(conn, row=row)


async def follow_merges(conn: AsyncConnection, *, row: Row | None) -> Row | None:
    """The survivor a merged record was folded into (the record itself when live)."""
    seen = set()
    while row is not None and row.merged_into is not None and row.id not in seen:
        seen.add(row.id)
        row = await get_customer(conn, customer_id=row.merged_into)
    return row


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
    credit_code: str | None = None,
    company_latin: str | None = None,
    company_grams: list[str] | None = None,
) -> Row:
    """Create a customer (and its search keys); returns the stored row."""
    row = (
        await conn.execute(
            insert(customers)
            .values(
                id=uuid.uuid4(),
                name=name,
                company=company,
                company_normalized=company_normalized,
                phone_e164=phone_e164,
                email_normalized=email_normalized,
                credit_code=credit_code,
                company_latin=company_latin,
            )
            .returning(*customers.c)
        )
    ).one()
    await replace_grams(conn, customer_id=row.id, grams=company_grams or [])
    return row


async def replace_grams(conn: AsyncConnection, *, customer_id: uuid.UUID, grams: list[str]) -> None:
    """Make a customer's search keys these character pairs."""
    await conn.execute(delete(customer_grams).where(customer_grams.c.customer_id == customer_id))
    if grams:
        await conn.execute(insert(customer_grams), [{"gram": g, "customer_id": customer_id} for g in grams])


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


# A character pair holding more than this share of the index (科技, 信息) finds too many to be a search key.
COMMON_GRAM_SHARE = 0.0001
_COMMON_GRAMS_TTL_SECONDS = 300.0
_common_grams_cache: dict[str, Any] = {"at": -_COMMON_GRAMS_TTL_SECONDS, "grams": {}}


async def common_grams(conn: AsyncConnection) -> dict[str, float]:
    """Character pairs PostgreSQL's statistics list as common, with their share of the index (cached for minutes)."""
    now = time.monotonic()
    if now - _common_grams_cache["at"] >= _COMMON_GRAMS_TTL_SECONDS:
        row = (
            await conn.execute(
                text(
                    "SELECT most_common_vals::text::text[] AS grams, most_common_freqs AS freqs FROM pg_stats "
                    "WHERE schemaname = :schema AND tablename = 'customer_grams' AND attname = 'gram'"
                ),
                {"schema": customers.schema},
            )
        ).first()
        grams = dict(zip(row.grams, row.freqs, strict=False)) if row is not None and row.grams else {}
        _common_grams_cache.update(at=now, grams=grams)
    return dict(_common_grams_cache["grams"])


async def find_candidates(
    conn: AsyncConnection,
    *,
    company_grams: list[str],
    company_latin: str | None,
    phone: str | None,
    email: str | None,
    credit_code: str | None,
    limit: int = 50,
    exclude: uuid.UUID | None = None,
) -> list[Row]:
    """Live customers sharing a key, or the ones sharing most rare character pairs (trigrams for Latin names)."""
    rows: dict[uuid.UUID, Row] = {}
    exact = [
        column == value
        for column, value in (
            (customers.c.phone_e164, phone),
            (customers.c.email_normalized, email),
            (customers.c.credit_code, credit_code),
        )
        if value
    ]
    live = customers.c.merged_into.is_(None)
    if exact:
        query = select(customers).where(or_(*exact), live).limit(limit)
        rows.update((row.id, row) for row in (await conn.execute(query)).all())
    if company_grams:
        common = await common_grams(conn)
        rare = [g for g in company_grams if common.get(g, 0.0) < COMMON_GRAM_SHARE]
        if not rare:
            # Every pair is common (a name made of common words): search by the two least common.
            rare = sorted(company_grams, key=lambda g: common.get(g, 0.0))[:2]
        # Count shared pairs in the inverted index alone (an index-only scan), then read the best few rows.
        best = (
            select(customer_grams.c.customer_id, func.count().label("shared"))
            .where(customer_grams.c.gram.in_(rare))
            .group_by(customer_grams.c.customer_id)
            .order_by(func.count().desc())
            .limit(limit * 4)
            .subquery()
        )
        query = (
            select(customers)
            .join(best, best.c.customer_id == customers.c.id)
            .where(live)
            .order_by(
                best.c.shared.desc(), func.public.similarity(customers.c.company_latin, company_latin or "").desc()
            )
            .limit(limit)
        )
        rows.update((row.id, row) for row in (await conn.execute(query)).all())
    elif company_latin:
        await conn.execute(text("SET LOCAL pg_trgm.similarity_threshold = 0.3"))
        query = (
            select(customers)
            .where(customers.c.company_latin.op("OPERATOR(public.%)")(company_latin), live)
            .order_by(func.public.similarity(customers.c.company_latin, company_latin).desc())
            .limit(limit)
        )
        rows.update((row.id, row) for row in (await conn.execute(query)).all())
    rows.pop(exclude, None)  # type: ignore[arg-type]
    return list(rows.values())


async def rejected_partners(conn: AsyncConnection, *, customer_id: uuid.UUID) -> set[uuid.UUID]:
    """Customers a steward declared distinct from this one."""
    query = select(match_reviews.c.customer_id, match_reviews.c.candidate_id).where(
        match_reviews.c.status == "rejected",
        or_(match_reviews.c.customer_id == customer_id, match_reviews.c.candidate_id == customer_id),
    )
    return {a if b == customer_id else b for a, b in (await conn.execute(query)).all()}


async def insert_review(
    conn: AsyncConnection, *, customer_id: uuid.UUID, candidate_id: uuid.UUID, score: float, explanation: dict[str, Any]
) -> Row:
    """Queue an uncertain pair (once per pair)."""
    stmt = (
        pg_insert(match_reviews)
        .values(
            id=uuid.uuid4(), customer_id=customer_id, candidate_id=candidate_id, score=score, explanation=explanation
        )
        .on_conflict_do_update(
            index_elements=["customer_id", "candidate_id"], set_={"score": score, "explanation": explanation}
        )
        .returning(*match_reviews.c)
    )
    return (await conn.execute(stmt)).one()


async def get_review(conn: AsyncConnection, *, review_id: uuid.UUID, for_update: bool = False) -> Row | None:
    """One review by id."""
    query = select(match_reviews).where(match_reviews.c.id == review_id)
    return (await conn.execute(query.with_for_update() if for_update else query)).first()


async def list_reviews(conn: AsyncConnection, *, status: str, limit: int) -> list[Row]:
    """Reviews in a status, oldest first."""
    query = (
        select(match_reviews)
        .where(match_reviews.c.status == status)
        .order_by(match_reviews.c.created_at, match_reviews.c.id)
        .limit(limit)
    )
    return list((await conn.execute(query)).all())


async def decide_review(conn: AsyncConnection, *, review_id: uuid.UUID, status: str, actor_id: str, reason: str) -> Row:
    """Record a steward's decision on a review."""
    stmt = (
        update(match_reviews)
        .where(match_reviews.c.id == review_id)
        .values(status=status, decided_by=actor_id, reason=reason, decided_at=func.now())
        .returning(*match_reviews.c)
    )
    return (await conn.execute(stmt)).one()


async def lock_customers(conn: AsyncConnection, *, customer_ids: list[uuid.UUID]) -> dict[uuid.UUID, Row]:
    """Lock rows (in id order, so two mergers never deadlock) and return them by id."""
    query = select(customers).where(customers.c.id.in_(customer_ids)).order_by(customers.c.id).with_for_update()
    return {row.id: row for row in (await conn.execute(query)).all()}


async def update_customer(conn: AsyncConnection, *, customer_id: uuid.UUID, values: dict[str, Any]) -> Row:
    """Set columns of one customer (updated_at follows)."""
    stmt = (
        update(customers)
        .where(customers.c.id == customer_id)
        .values(**values, updated_at=func.now())
        .returning(*customers.c)
    )
    return (await conn.execute(stmt)).one()


async def move_sources(
    conn: AsyncConnection, *, from_id: uuid.UUID, to_id: uuid.UUID, only: list[uuid.UUID] | None = None
) -> list[uuid.UUID]:
    """Relink source records (all, or the given ones) from one customer to another; returns the moved ids."""
    already = select(customer_sources.c.source_ref).where(customer_sources.c.customer_id == to_id)
    condition = and_(customer_sources.c.customer_id == from_id, customer_sources.c.source_ref.not_in(already))
    if only is not None:
        condition = and_(customer_sources.c.customer_id == from_id, customer_sources.c.id.in_(only))
    stmt = update(customer_sources).where(condition).values(customer_id=to_id).returning(customer_sources.c.id)
    return [row.id for row in (await conn.execute(stmt)).all()]


async def insert_merge(
    conn: AsyncConnection,
    *,
    survivor_id: uuid.UUID,
    merged_id: uuid.UUID,
    filled_fields: dict[str, Any],
    moved_sources: list[str],
    actor_id: str,
    reason: str,
) -> Row:
    """Record a merge and what it changed."""
    stmt = (
        insert(merges)
        .values(
            id=uuid.uuid4(),
            survivor_id=survivor_id,
            merged_id=merged_id,
            filled_fields=filled_fields,
            moved_sources=moved_sources,
            actor_id=actor_id,
            reason=reason,
        )
        .returning(*merges.c)
    )
    return (await conn.execute(stmt)).one()


async def get_merge(conn: AsyncConnection, *, merge_id: uuid.UUID) -> Row | None:
    """One merge, locked for the caller's transaction."""
    return (await conn.execute(select(merges).where(merges.c.id == merge_id).with_for_update())).first()


async def mark_merge_undone(conn: AsyncConnection, *, merge_id: uuid.UUID) -> None:
    """Remember that a merge was undone."""
    await conn.execute(update(merges).where(merges.c.id == merge_id).values(undone_at=func.now()))


async def insert_changes(conn: AsyncConnection, *, changes: list[dict[str, Any]]) -> None:
    """Append to the history (customer_id, field, old_value, new_value, actor_id, actor_role, reason)."""
    if changes:
        await conn.execute(insert(customer_changes), [{"id": uuid.uuid4(), **change} for change in changes])


async def list_changes(conn: AsyncConnection, *, customer_id: uuid.UUID) -> list[Row]:
    """A customer's history, newest first."""
    query = (
        select(customer_changes)
        .where(customer_changes.c.customer_id == customer_id)
        .order_by(customer_changes.c.at.desc(), customer_changes.c.id)
    )
    return list((await conn.execute(query)).all())


async def insert_change_request(
    conn: AsyncConnection, *, customer_id: uuid.UUID, field: str, value: str, actor_id: str, reason: str
) -> uuid.UUID:
    """File a request to change a golden field."""
    request_id = uuid.uuid4()
    await conn.execute(
        insert(change_requests).values(
            id=request_id, customer_id=customer_id, field=field, value=value, actor_id=actor_id, reason=reason
        )
    )
    return request_id


async def reassign_steward(conn: AsyncConnection, *, from_rep_id: str, to_rep_id: str) -> list[uuid.UUID]:
    """Move stewardship of every account; returns the accounts moved."""
    stmt = (
        update(customers)
        .where(customers.c.steward_id == from_rep_id)
        .values(steward_id=to_rep_id, updated_at=func.now())
        .returning(customers.c.id)
    )
    return [row.id for row in (await conn.execute(stmt)).all()]


async def data_health(conn: AsyncConnection, *, stale_before: datetime) -> dict[str, int]:
    """Counts behind the data-health figures."""
    live = customers.c.merged_into.is_(None)
    query = select(
        func.count().filter(live).label("customers"),
        func.count().filter(customers.c.merged_into.is_not(None)).label("merged"),
        func.count().filter(live, customers.c.phone_e164.is_(None)).label("missing_phone"),
        func.count().filter(live, customers.c.credit_code.is_(None)).label("missing_credit_code"),
        func.count().filter(live, customers.c.updated_at < stale_before).label("stale_records"),
    ).select_from(customers)
    counts = dict((await conn.execute(query)).one()._mapping)
    counts["review_queue_size"] = int(
        await conn.scalar(select(func.count()).select_from(match_reviews).where(match_reviews.c.status == "pending"))
        or 0
    )
    return counts


async def get_setting(conn: AsyncConnection, *, key: str) -> Any | None:
    """A stored setting (JSON), or None."""
    return await conn.scalar(select(match_settings.c.value).where(match_settings.c.key == key))


async def put_setting(conn: AsyncConnection, *, key: str, value: Any, updated_by: str) -> None:
    """Store a setting (JSON)."""
    stmt = pg_insert(match_settings).values(key=key, value=value, updated_by=updated_by)
    await conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["key"], set_={"value": value, "updated_by": updated_by, "updated_at": func.now()}
        )
    )
