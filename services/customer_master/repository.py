"""Every query of customer-master; functions take the caller's connection and keyword-only arguments."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, Integer, Text, and_, bindparam, delete, func, insert, or_, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from customer_master.tables import (
    account_golden,
    change_requests,
    contact_intake,
    contact_keys,
    contact_merges,
    contact_sources,
    contacts,
    customer_changes,
    customer_grams,
    customer_sources,
    customers,
    match_reviews,
    match_settings,
    merges,
    survivorship_rules,
)

_KEY_COLUMNS = {
    "phone": customers.c.phone_e164,
    "email": customers.c.email_normalized,
    "company": customers.c.company_normalized,
    "credit_code": customers.c.credit_code,
}


_CUSTOMER_COLUMNS_SQL = ", ".join(column.name for column in customers.c)
PoolEntry = tuple[uuid.UUID, str, str]
"""(customer id, core, place prefix) of a customer in a candidate pool."""

# How many customers (times the candidates wanted) the index ranking hands to the scorer's ranking.
POOL_FACTOR = 6

# Migration 0006 defines both functions; a change of the pool's query is a migration (CREATE OR REPLACE).
_RESOLVE_LOOKUP = text(
    "SELECT pooled, id, merged_into, phone_e164, email_normalized, company_normalized, credit_code, core, place, "
    "company, name FROM customer_master.resolve_lookup(:locks, :phone, :email, :company, :credit_code, :grams, :query_keys, :size)"
).bindparams(
    bindparam("locks", type_=ARRAY(Text)),
    *(bindparam(key, type_=Text) for key in ("phone", "email", "company", "credit_code")),
    bindparam("grams", type_=ARRAY(Text)),
    bindparam("query_keys", type_=Float),
    bindparam("size", type_=Integer),
)
_CANDIDATE_POOL = text(
    "SELECT customer_id, core, place FROM customer_master.candidate_pool(:grams, :query_keys, :size)"
).bindparams(
    bindparam("grams", type_=ARRAY(Text)), bindparam("query_keys", type_=Float), bindparam("size", type_=Integer)
)


@dataclass(frozen=True)
class Lookup:
    """What a resolve's locked lookup found: the customers holding its keys, else the pool of its company's keys.

    pool is None when it was not searched (a key matched, or no search keys were given).
    """

    holders: list[Row]
    pool: list[PoolEntry] | None


async def resolve_lookup(
    conn: AsyncConnection,
    *,
    lock_names: list[str],
    keys: list[tuple[str, str]],
    grams: list[str],
    query_keys: int,
    pool_size: int,
) -> Lookup:
    """Lock the names (in the order given: callers sort them), then read the customers holding any of the exact keys
    or, when none does, the candidate pool of these search keys (see candidate_pool): one round trip.

    The reads run after the locks are granted, each in a snapshot of its own, so they see what a concurrent resolve
    sharing a key committed. A holder row has the key columns, id, merged_into, company and name (what the account
    decision compares), not the whole customer.
    """
    values = dict(keys)
    params = {
        "locks": lock_names,
        **{key: values.get(key) for key in ("phone", "email", "company", "credit_code")},
        "grams": grams,
        "query_keys": float(max(query_keys, 1)),
        "size": pool_size,
    }
    rows = (await conn.execute(_RESOLVE_LOOKUP, params)).all()
    holders = [row for row in rows if not row[0]]
    pool = [(row.id, row.core, row.place) for row in rows if row.pooled]
    return Lookup(holders, pool if not holders and grams else None)


def key_holders(*, holders: list[Row], keys: list[tuple[str, str]]) -> list[tuple[str, Row]]:
    """(key, record) for every key (in the order given) that a record holds, merged records included."""
    found: list[tuple[str, Row]] = []
    for key, value in keys:
        found.extend((key, row) for row in holders if getattr(row, _KEY_COLUMNS[key].name) == value)
    return found


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
    """Create a customer and its search keys in one statement; returns the stored row."""
    grams = company_grams or []
    values = {
        "id": uuid.uuid4(),
        "name": name,
        "company": company,
        "company_normalized": company_normalized,
        "phone_e164": phone_e164,
        "email_normalized": email_normalized,
        "credit_code": credit_code,
        "company_latin": company_latin,
        **_gram_values(grams),
    }
    return (await conn.execute(_INSERT_CUSTOMER, values)).one()


async def replace_grams(conn: AsyncConnection, *, customer_id: uuid.UUID, grams: list[str]) -> None:
    """Make a customer's search keys these character pairs."""
    await conn.execute(delete(customer_grams).where(customer_grams.c.customer_id == customer_id))
    await insert_grams(conn, customer_id=customer_id, grams=grams)


# All of a customer's keys in one statement (an executemany would cost a round of the protocol per key). Every
# key row carries the core (=) and place (^) keys' text, for ranking a pool from the index alone.
_GRAMS_SELECT = "SELECT g, :id, :weight, :core, :place FROM unnest(CAST(:grams AS text[])) AS g"
_GRAM_PARAMS = (
    bindparam("id", type_=UUID(as_uuid=True)),
    bindparam("weight", type_=Float),
    bindparam("core", type_=Text),
    bindparam("place", type_=Text),
    bindparam("grams", type_=ARRAY(Text)),
)
_INSERT_GRAMS = text(
    f"INSERT INTO customer_master.customer_grams (gram, customer_id, weight, core, place) {_GRAMS_SELECT}"
).bindparams(*_GRAM_PARAMS)
_CUSTOMER_COLUMNS = ("name", "company", "company_normalized", "phone_e164", "email_normalized", "credit_code")
_CUSTOMER_PARAMS = tuple(bindparam(c, type_=Text) for c in (*_CUSTOMER_COLUMNS, "company_latin"))
_CREATED_CTES = (
    "created AS (INSERT INTO customer_master.customers "
    f"(id, {', '.join(_CUSTOMER_COLUMNS)}, company_latin) "
    f"VALUES (:id, {', '.join(':' + c for c in _CUSTOMER_COLUMNS)}, :company_latin) "
    f"RETURNING {_CUSTOMER_COLUMNS_SQL}), "
    f"keys AS (INSERT INTO customer_master.customer_grams (gram, customer_id, weight, core, place) {_GRAMS_SELECT})"
)
# A new customer and its keys: one round trip (the key rows' foreign key is checked at the statement's end).
_INSERT_CUSTOMER = (
    text(f"WITH {_CREATED_CTES} SELECT {_CUSTOMER_COLUMNS_SQL} FROM created")
    .bindparams(*_GRAM_PARAMS, *_CUSTOMER_PARAMS)
    .columns(*customers.c)
)
# What a resolve writes once it knows its customer (:id): the source record (first time only) and the person for the
# contact intake worker, each only when asked for. Data-modifying CTEs, so that they cost no round trip of their own.
_RESOLVED_CTES = (
    "source AS (INSERT INTO customer_master.customer_sources "
    "(id, customer_id, source_ref, name, company, phone, email, matched_on) "
    "SELECT :source_id, :id, :source_ref, :source_name, :source_company, :source_phone, :source_email, :matched_on "
    "WHERE :with_source ON CONFLICT (customer_id, source_ref) DO NOTHING), "
    "person AS (INSERT INTO customer_master.contact_intake (id, customer_id, source_ref, name, phone, email) "
    "SELECT :person_id, :id, :person_ref, :person_name, :person_phone, :person_email WHERE :with_person)"
)
_RESOLVED_PARAMS = (
    bindparam("id", type_=UUID(as_uuid=True)),
    bindparam("source_id", type_=UUID(as_uuid=True)),
    bindparam("person_id", type_=UUID(as_uuid=True)),
    bindparam("with_source", type_=Boolean),
    bindparam("with_person", type_=Boolean),
    *(
        bindparam(name, type_=Text)
        for name in (
            "source_ref",
            "source_name",
            "source_company",
            "source_phone",
            "source_email",
            "matched_on",
            "person_ref",
            "person_name",
            "person_phone",
            "person_email",
        )
    ),
)
# A resolve that creates its customer: the customer, its keys, its source record and its person in one statement
# (the foreign keys of the rows that name it are checked at the statement's end, when it exists).
_CREATE_RESOLVED = (
    text(f"WITH {_CREATED_CTES}, {_RESOLVED_CTES} SELECT {_CUSTOMER_COLUMNS_SQL} FROM created")
    .bindparams(*(p for p in _GRAM_PARAMS if p.key != "id"), *_CUSTOMER_PARAMS, *_RESOLVED_PARAMS)
    .columns(*customers.c)
)
# A resolve that found its customer: its writes, and the customer's row (the lookup read only its keys).
_RECORD_RESOLVED = (
    text(f"WITH {_RESOLVED_CTES} SELECT {_CUSTOMER_COLUMNS_SQL} FROM customer_master.customers WHERE id = :id")
    .bindparams(*_RESOLVED_PARAMS)
    .columns(*customers.c)
)


@dataclass(frozen=True)
class SourceRecord:
    """The values a source record brought to a resolve, and how it resolved (customer_sources)."""

    source_ref: str
    name: str | None
    company: str | None
    phone: str | None
    email: str | None
    matched_on: str


@dataclass(frozen=True)
class Person:
    """The person a resolve named, as given, for the contact intake worker (contact_intake)."""

    source_ref: str
    name: str
    phone: str
    email: str


def _resolved_values(source: SourceRecord | None, person: Person | None) -> dict[str, Any]:
    """The parameters of _RESOLVED_CTES."""
    return {
        "with_source": source is not None,
        "source_id": uuid.uuid4() if source is not None else None,
        "source_ref": source.source_ref if source is not None else None,
        "source_name": source.name if source is not None else None,
        "source_company": source.company if source is not None else None,
        "source_phone": source.phone if source is not None else None,
        "source_email": source.email if source is not None else None,
        "matched_on": source.matched_on if source is not None else None,
        "with_person": person is not None,
        "person_id": uuid.uuid4() if person is not None else None,
        "person_ref": person.source_ref if person is not None else None,
        "person_name": person.name if person is not None else None,
        "person_phone": person.phone if person is not None else None,
        "person_email": person.email if person is not None else None,
    }


async def create_resolved(
    conn: AsyncConnection,
    *,
    name: str,
    company: str | None,
    company_normalized: str | None,
    phone_e164: str | None,
    email_normalized: str | None,
    credit_code: str | None,
    company_latin: str | None,
    company_grams: list[str],
    source: SourceRecord | None,
    person: Person | None,
) -> Row:
    """A resolve's new customer with its search keys, its source record and its person, in one statement."""
    values = {
        "id": uuid.uuid4(),
        "name": name,
        "company": company,
        "company_normalized": company_normalized,
        "phone_e164": phone_e164,
        "email_normalized": email_normalized,
        "credit_code": credit_code,
        "company_latin": company_latin,
        **_gram_values(company_grams),
        **_resolved_values(source, person),
    }
    return (await conn.execute(_CREATE_RESOLVED, values)).one()


async def record_resolved(
    conn: AsyncConnection, *, customer_id: uuid.UUID, source: SourceRecord | None, person: Person | None
) -> Row:
    """A resolve's source record (first time only) and person for the customer it found, in one statement; returns
    the customer's row."""
    return (await conn.execute(_RECORD_RESOLVED, {"id": customer_id, **_resolved_values(source, person)})).one()


def _gram_values(grams: list[str]) -> dict[str, Any]:
    """The parameters of _GRAMS_SELECT for a customer's keys, each weighing 1 / their number."""
    return {
        "grams": grams,
        "weight": 1.0 / len(grams) if grams else 0.0,
        "core": next((g[1:] for g in grams if g.startswith("=")), ""),
        "place": next((g[1:] for g in grams if g.startswith("^")), ""),
    }


async def insert_grams(conn: AsyncConnection, *, customer_id: uuid.UUID, grams: list[str]) -> None:
    """Add the search keys of a customer that has none, each weighing 1 / their number."""
    if grams:
        await conn.execute(_INSERT_GRAMS, {"id": customer_id, **_gram_values(grams)})


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
    rank: Callable[[list[PoolEntry]], list[uuid.UUID]] | None = None,
) -> list[Row]:
    """Live customers sharing a key, and the ones holding most of the rare character pairs (trigrams for Latin names).

    The pool of customers holding rare keys is ranked in the index by containment, not by a raw count: the share
    of the query's keys a customer holds plus the share of the customer's own keys (their weights summed) the query
    holds, so that a short name inside the query (宇丰科技 in 宇雅丰医药科技) is not crowded out by long ones. rank
    then orders that pool by the scorer's own measure (from the core and place each key row carries), and the best
    limit are read.
    """
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
        grams = await search_grams(conn, grams=company_grams)
        pool = await candidate_pool(conn, grams=grams, query_keys=len(company_grams), size=limit * POOL_FACTOR)
        rows.update((row.id, row) for row in await pooled_customers(conn, pool=pool, limit=limit, rank=rank))
    elif company_latin:
        # pg_trgm's % uses pg_trgm.similarity_threshold, 0.3 unless a session changed it (nothing here does).
        query = (
            select(customers)
            .where(customers.c.company_latin.op("OPERATOR(public.%)")(company_latin), live)
            .order_by(func.public.similarity(customers.c.company_latin, company_latin).desc())
            .limit(limit)
        )
        rows.update((row.id, row) for row in (await conn.execute(query)).all())
    rows.pop(exclude, None)  # type: ignore[arg-type]
    return list(rows.values())


async def search_grams(conn: AsyncConnection, *, grams: list[str]) -> list[str]:
    """The keys a pool is searched by: the rare ones, or the two least common when every one is common."""
    common = await common_grams(conn)
    rare = [g for g in grams if common.get(g, 0.0) < COMMON_GRAM_SHARE]
    # Every pair is common (a name made of common words): search by the two least common.
    return rare or sorted(grams, key=lambda g: common.get(g, 0.0))[:2]


async def candidate_pool(conn: AsyncConnection, *, grams: list[str], query_keys: int, size: int) -> list[PoolEntry]:
    """The size customers holding most of these keys (by containment, see find_candidates), with core and place."""
    params = {"grams": grams, "query_keys": float(max(query_keys, 1)), "size": size}
    return [(customer_id, core, place) for customer_id, core, place in (await conn.execute(_CANDIDATE_POOL, params))]


async def pooled_customers(
    conn: AsyncConnection,
    *,
    pool: list[PoolEntry],
    limit: int,
    rank: Callable[[list[PoolEntry]], list[uuid.UUID]] | None = None,
) -> list[Row]:
    """The best limit live customers of a pool, ordered by rank (else in the pool's order)."""
    ranked = rank(pool) if rank is not None else [entry[0] for entry in pool]
    return await live_customers(conn, customer_ids=ranked[:limit])


# One array parameter, not one per id: the statement's text stays the same and is prepared once.
_LIVE_CUSTOMERS = select(customers).where(
    customers.c.id == func.any(bindparam("ids", type_=ARRAY(UUID(as_uuid=True)))), customers.c.merged_into.is_(None)
)


async def live_customers(conn: AsyncConnection, *, customer_ids: list[uuid.UUID]) -> list[Row]:
    """These customers, in the order given, those merged into another left out."""
    if not customer_ids:
        return []
    found = {row.id: row for row in (await conn.execute(_LIVE_CUSTOMERS, {"ids": customer_ids})).all()}
    return [found[i] for i in customer_ids if i in found]


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
        .values(steward_id=to_rep_id, steward_needed=False, updated_at=func.now())
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
        func.count().filter(live, customers.c.steward_needed.is_(True)).label("steward_needed"),
    ).select_from(customers)
    counts = dict((await conn.execute(query)).one()._mapping)
    counts["review_queue_size"] = int(
        await conn.scalar(select(func.count()).select_from(match_reviews).where(match_reviews.c.status == "pending"))
        or 0
    )
    counts["suspected_duplicates"] = int(await conn.scalar(_SUSPECTED_DUPLICATES) or 0)
    return counts


# Live customers beyond the first of each auto-matched cluster of the latest finished dedup job over the base:
# the duplicates it found that no steward has merged yet.
_SUSPECTED_DUPLICATES = text(
    """
    WITH job AS (
        SELECT id FROM customer_master.dedup_jobs
        WHERE scope = 'base' AND status = 'done' ORDER BY finished_at DESC NULLS LAST LIMIT 1
    ), live AS (
        SELECT c.number, count(DISTINCT cu.id) AS members
        FROM customer_master.dedup_clusters c
        JOIN job ON c.job_id = job.id
        CROSS JOIN LATERAL jsonb_array_elements(c.members) AS m
        JOIN customer_master.customers cu ON cu.id::text = m->>'customer_id' AND cu.merged_into IS NULL
        WHERE c.decision = 'auto_match'
        GROUP BY c.number
    )
    SELECT coalesce(sum(members - 1), 0) FROM live
    """
)


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


async def insert_change_request_with_old(
    conn: AsyncConnection,
    *,
    customer_id: uuid.UUID,
    field: str,
    value: str,
    old_value: str | None,
    actor_id: str,
    reason: str,
) -> uuid.UUID:
    """File a request to change a field, remembering the field's value at filing (what an approval expects)."""
    request_id = uuid.uuid4()
    await conn.execute(
        insert(change_requests).values(
            id=request_id,
            customer_id=customer_id,
            field=field,
            value=value,
            old_value=old_value,
            actor_id=actor_id,
            reason=reason,
        )
    )
    return request_id


async def get_change_request(conn: AsyncConnection, *, request_id: uuid.UUID, for_update: bool = False) -> Row | None:
    """One change request by id (locked for the caller's transaction when asked)."""
    query = select(change_requests).where(change_requests.c.id == request_id)
    return (await conn.execute(query.with_for_update() if for_update else query)).first()


async def list_change_requests(
    conn: AsyncConnection, *, customer_id: uuid.UUID | None, status: str | None, limit: int
) -> list[Row]:
    """Change requests (of one customer, in one status, when given), oldest first."""
    query = select(change_requests).order_by(change_requests.c.created_at, change_requests.c.id).limit(limit)
    if customer_id is not None:
        query = query.where(change_requests.c.customer_id == customer_id)
    if status is not None:
        query = query.where(change_requests.c.status == status)
    return list((await conn.execute(query)).all())


async def decide_change_request(
    conn: AsyncConnection, *, request_id: uuid.UUID, status: str, decided_by: str, decided_role: str, reason: str
) -> Row:
    """Record the owner's decision on a change request."""
    stmt = (
        update(change_requests)
        .where(change_requests.c.id == request_id)
        .values(
            status=status,
            decided_by=decided_by,
            decided_role=decided_role,
            decision_reason=reason,
            decided_at=func.now(),
        )
        .returning(*change_requests.c)
    )
    return (await conn.execute(stmt)).one()


async def mark_steward_needed(conn: AsyncConnection, *, rep_id: str) -> list[uuid.UUID]:
    """Flag every account stewarded by a departed rep nobody takes over; returns the accounts newly flagged."""
    stmt = (
        update(customers)
        .where(customers.c.steward_id == rep_id, customers.c.steward_needed.is_(False))
        .values(steward_needed=True, updated_at=func.now())
        .returning(customers.c.id)
    )
    return [row.id for row in (await conn.execute(stmt)).all()]


# Contacts and survivorship (CONTACTS).


async def find_contact_candidates(
    conn: AsyncConnection, *, keys: list[str], customer_id: uuid.UUID | None, limit: int
) -> list[Row]:
    """Live contacts sharing a blocking key (the shared keys as hit_keys), most shared first: index lookups only."""
    if not keys:
        return []
    query = (
        select(contacts, func.array_agg(contact_keys.c.key).label("hit_keys"))
        .join(contact_keys, contact_keys.c.contact_id == contacts.c.id)
        .where(contact_keys.c.key.in_(keys), contacts.c.merged_into.is_(None))
        .group_by(contacts.c.id)
        .order_by(func.count().desc(), contacts.c.created_at)
        .limit(limit)
    )
    if customer_id is not None:
        query = query.where(contacts.c.customer_id == customer_id)
    return list((await conn.execute(query)).all())


# Hand-written because SQLAlchemy gives ON CONFLICT statements no cache key: built with the Core they would be
# compiled afresh at every capture, which costs more than running them.
_CAPTURE_SOURCE = f"""
WITH stored AS (
    INSERT INTO {contact_sources.fullname}
        (id, contact_id, customer_id, source_system, source_ref, name, phone_e164, email_normalized, match,
         observed_at)
    VALUES (:source_id, :contact_id, :customer_id, :source_system, :source_ref, :source_name, :source_phone,
            :source_email, :match, :observed_at)
    ON CONFLICT (customer_id, source_ref) WHERE source_ref <> '' DO NOTHING
    RETURNING id, contact_id
), with_keys AS (
    INSERT INTO {contact_keys.fullname} (key, contact_id)
    SELECT unnest(:keys), contact_id FROM stored
    ON CONFLICT DO NOTHING
)"""
_CAPTURE_CREATE = f""", golden AS (
    INSERT INTO {contacts.fullname}
        (id, customer_id, name, phone_e164, email_normalized, provenance, rules_version, created_at)
    VALUES (:contact_id, :customer_id, :name, :phone_e164, :email_normalized, :provenance, :rules_version,
            :observed_at)
    RETURNING *
)"""
_CAPTURE_UPDATE = f""", golden AS (
    UPDATE {contacts.fullname}
    SET name = :name, phone_e164 = :phone_e164, email_normalized = :email_normalized, provenance = :provenance,
        rules_version = :rules_version, updated_at = now()
    WHERE id = :contact_id AND EXISTS (SELECT 1 FROM stored)
    RETURNING *
)"""
_CAPTURE_MARK = f""", mark AS (
    INSERT INTO {account_golden.fullname} (customer_id, rules_version) VALUES (:customer_id, -1)
    ON CONFLICT (customer_id) DO UPDATE SET rules_version = -1
)"""
_CAPTURE_RESULT = "\nSELECT golden.*, (SELECT id FROM stored) AS written_source_id FROM golden"
_CAPTURE_TYPES = (
    bindparam("keys", type_=ARRAY(Text)),
    bindparam("match", type_=JSONB),
    bindparam("provenance", type_=JSONB),
)


async def write_captured_contact(
    conn: AsyncConnection,
    *,
    contact: dict[str, Any],
    create: bool,
    source: dict[str, Any],
    keys: list[str],
    stale_account: uuid.UUID | None,
) -> tuple[Row | None, bool]:
    """One statement: the source record, its blocking keys, the golden contact (inserted, or updated when the
    source is new), and the account's stale mark when given. Returns the contact (None when an update was
    skipped) and whether the source record was new; a repeated source_ref writes no source and no keys (an
    inserted contact is then the caller's to remove).
    """
    sql = _CAPTURE_SOURCE + (_CAPTURE_CREATE if create else _CAPTURE_UPDATE)
    sql += (_CAPTURE_MARK if stale_account is not None else "") + _CAPTURE_RESULT
    params = {
        "source_id": source["id"],
        "contact_id": contact["id"],
        "customer_id": source["customer_id"],
        "source_system": source["source_system"],
        "source_ref": source["source_ref"],
        "source_name": source["name"],
        "source_phone": source["phone_e164"],
        "source_email": source["email_normalized"],
        "match": source["match"],
        "observed_at": source["observed_at"],
        "keys": keys,
        "name": contact.get("name", ""),
        "phone_e164": contact.get("phone_e164"),
        "email_normalized": contact.get("email_normalized"),
        "provenance": contact.get("provenance", {}),
        "rules_version": contact.get("rules_version", 0),
    }
    row = (await conn.execute(text(sql).bindparams(*_CAPTURE_TYPES), params)).first()
    if row is None:
        return None, False
    return row, row.written_source_id is not None


async def mark_account_stale(conn: AsyncConnection, *, customer_id: uuid.UUID) -> None:
    """An account's sources changed: its golden fields wait for the rebuild loop."""
    await conn.execute(
        text(
            f"INSERT INTO {account_golden.fullname} (customer_id, rules_version) VALUES (:customer_id, -1) "
            "ON CONFLICT (customer_id) DO UPDATE SET rules_version = -1"
        ),
        {"customer_id": customer_id},
    )


async def delete_contact(conn: AsyncConnection, *, contact_id: uuid.UUID) -> None:
    """Remove a contact (only one created in the same transaction and left without a source)."""
    await conn.execute(delete(contacts).where(contacts.c.id == contact_id))


async def contact_of_source(conn: AsyncConnection, *, customer_id: uuid.UUID, source_ref: str) -> Row | None:
    """The contact an account's source record belongs to."""
    query = (
        select(contacts)
        .join(contact_sources, contact_sources.c.contact_id == contacts.c.id)
        .where(contact_sources.c.customer_id == customer_id, contact_sources.c.source_ref == source_ref)
    )
    return (await conn.execute(query)).first()


async def update_contact(conn: AsyncConnection, *, contact_id: uuid.UUID, values: dict[str, Any]) -> Row:
    """Set columns of one contact (updated_at follows)."""
    stmt = (
        update(contacts)
        .where(contacts.c.id == contact_id)
        .values(**values, updated_at=func.now())
        .returning(*contacts.c)
    )
    return (await conn.execute(stmt)).one()


async def get_contact(conn: AsyncConnection, *, contact_id: uuid.UUID) -> Row | None:
    """One contact by id."""
    return (await conn.execute(select(contacts).where(contacts.c.id == contact_id))).first()


async def list_contacts(conn: AsyncConnection, *, customer_id: uuid.UUID, limit: int) -> list[Row]:
    """An account's live contacts (merged ones are reached through their survivor), oldest first."""
    query = (
        select(contacts)
        .where(contacts.c.customer_id == customer_id, contacts.c.merged_into.is_(None))
        .order_by(contacts.c.created_at, contacts.c.id)
        .limit(limit)
    )
    return list((await conn.execute(query)).all())


async def list_contact_sources(conn: AsyncConnection, *, contact_id: uuid.UUID) -> list[Row]:
    """A contact's source records, oldest first."""
    query = (
        select(contact_sources)
        .where(contact_sources.c.contact_id == contact_id)
        .order_by(contact_sources.c.observed_at, contact_sources.c.id)
    )
    return list((await conn.execute(query)).all())


async def stale_contacts(conn: AsyncConnection, *, version: int, limit: int) -> list[uuid.UUID]:
    """Contacts built under another rules version than this one."""
    query = select(contacts.c.id).where(contacts.c.rules_version < version).limit(limit)
    return [row.id for row in (await conn.execute(query)).all()]


async def get_survivorship_rules(conn: AsyncConnection, *, version: int | None = None) -> Row | None:
    """One stored version of the survivorship rules, or the highest when version is None."""
    query = select(survivorship_rules)
    if version is None:
        query = query.order_by(survivorship_rules.c.version.desc()).limit(1)
    else:
        query = query.where(survivorship_rules.c.version == version)
    return (await conn.execute(query)).first()


async def insert_survivorship_rules(conn: AsyncConnection, *, rules: dict[str, Any], set_by: str, reason: str) -> Row:
    """Store the next version of the survivorship rules (concurrent setters take turns)."""
    await lock_keys(conn, lock_names=["customer_master:survivorship_rules"])
    version = int(await conn.scalar(select(func.coalesce(func.max(survivorship_rules.c.version), 0))) or 0) + 1
    stmt = (
        insert(survivorship_rules)
        .values(version=version, rules=rules, set_by=set_by, reason=reason)
        .returning(*survivorship_rules.c)
    )
    return (await conn.execute(stmt)).one()


async def put_account_golden(
    conn: AsyncConnection, *, customer_id: uuid.UUID, rules_version: int, provenance: dict[str, Any]
) -> None:
    """Remember which rules version built an account's golden fields, and from which sources."""
    stmt = pg_insert(account_golden).values(
        customer_id=customer_id, rules_version=rules_version, provenance=provenance
    )
    await conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["customer_id"],
            set_={"rules_version": rules_version, "provenance": provenance, "rebuilt_at": func.now()},
        )
    )


async def stale_accounts(conn: AsyncConnection, *, version: int, after: uuid.UUID | None, limit: int) -> list[uuid.UUID]:
    """Live accounts (in id order after a cursor) not built under this rules version."""
    query = (
        select(customers.c.id)
        .outerjoin(account_golden, account_golden.c.customer_id == customers.c.id)
        .where(
            customers.c.merged_into.is_(None),
            or_(account_golden.c.rules_version.is_(None), account_golden.c.rules_version != version),
        )
        .order_by(customers.c.id)
        .limit(limit)
    )
    if after is not None:
        query = query.where(customers.c.id > after)
    return [row.id for row in (await conn.execute(query)).all()]


async def marked_accounts(conn: AsyncConnection, *, limit: int) -> list[uuid.UUID]:
    """Accounts whose sources changed since their last rebuild."""
    query = select(account_golden.c.customer_id).where(account_golden.c.rules_version == -1).limit(limit)
    return [row.customer_id for row in (await conn.execute(query)).all()]


async def owner_pins(conn: AsyncConnection, *, customer_id: uuid.UUID, owners: dict[str, str]) -> dict[str, str]:
    """Golden fields whose latest manual change was made by their owning role (to a value): field → role."""
    if not owners:
        return {}
    query = (
        select(customer_changes.c.field, customer_changes.c.actor_role, customer_changes.c.new_value)
        .where(
            customer_changes.c.customer_id == customer_id,
            customer_changes.c.field.in_(list(owners)),
            customer_changes.c.actor_role != "",
        )
        .order_by(customer_changes.c.at.desc(), customer_changes.c.id)
    )
    latest: dict[str, tuple[str, str | None]] = {}
    for row in (await conn.execute(query)).all():
        latest.setdefault(row.field, (row.actor_role, row.new_value))
    return {field: role for field, (role, value) in latest.items() if role == owners[field] and value}


async def key_holder(conn: AsyncConnection, *, key: str, value: str) -> uuid.UUID | None:
    """The customer (merged or not) holding a unique match key."""
    return await conn.scalar(select(customers.c.id).where(_KEY_COLUMNS[key] == value).limit(1))


async def lock_contacts(conn: AsyncConnection, *, contact_ids: list[uuid.UUID]) -> dict[uuid.UUID, Row]:
    """Lock contacts (in id order, so two mergers never deadlock) and return them by id."""
    query = select(contacts).where(contacts.c.id.in_(contact_ids)).order_by(contacts.c.id).with_for_update()
    return {row.id: row for row in (await conn.execute(query)).all()}


async def move_contact_sources(
    conn: AsyncConnection, *, from_id: uuid.UUID, to_id: uuid.UUID, only: list[uuid.UUID] | None = None
) -> list[uuid.UUID]:
    """Relink a contact's source records (all, or the given ones) to another contact; returns the moved ids."""
    condition = contact_sources.c.contact_id == from_id
    if only is not None:
        condition = and_(condition, contact_sources.c.id.in_(only))
    stmt = update(contact_sources).where(condition).values(contact_id=to_id).returning(contact_sources.c.id)
    return [row.id for row in (await conn.execute(stmt)).all()]


async def replace_contact_keys(conn: AsyncConnection, *, contact_id: uuid.UUID, keys: list[str]) -> None:
    """Make a contact's blocking keys exactly these."""
    await conn.execute(delete(contact_keys).where(contact_keys.c.contact_id == contact_id))
    if keys:
        await conn.execute(insert(contact_keys), [{"key": k, "contact_id": contact_id} for k in sorted(set(keys))])


async def insert_contact_merge(
    conn: AsyncConnection,
    *,
    survivor_id: uuid.UUID,
    merged_id: uuid.UUID,
    moved_sources: list[str],
    actor_id: str,
    reason: str,
) -> Row:
    """Record a contact merge and the source records it moved."""
    stmt = (
        insert(contact_merges)
        .values(
            id=uuid.uuid4(),
            survivor_id=survivor_id,
            merged_id=merged_id,
            moved_sources=moved_sources,
            actor_id=actor_id,
            reason=reason,
        )
        .returning(*contact_merges.c)
    )
    return (await conn.execute(stmt)).one()


async def get_contact_merge(conn: AsyncConnection, *, merge_id: uuid.UUID) -> Row | None:
    """One contact merge, locked for the caller's transaction."""
    query = select(contact_merges).where(contact_merges.c.id == merge_id).with_for_update()
    return (await conn.execute(query)).first()


async def mark_contact_merge_undone(conn: AsyncConnection, *, merge_id: uuid.UUID) -> None:
    """Remember that a contact merge was undone."""
    await conn.execute(update(contact_merges).where(contact_merges.c.id == merge_id).values(undone_at=func.now()))


async def move_account_contacts(
    conn: AsyncConnection, *, from_customer: uuid.UUID, to_customer: uuid.UUID, only_sourced_from: bool = False
) -> list[uuid.UUID]:
    """Move an account's contacts to another account; with only_sourced_from, only those every source of which
    was captured for to_customer (what an unmerge gives back). Returns the moved contacts."""
    condition = contacts.c.customer_id == from_customer
    if only_sourced_from:
        foreign = select(contact_sources.c.id).where(
            contact_sources.c.contact_id == contacts.c.id, contact_sources.c.customer_id != to_customer
        )
        condition = and_(condition, ~foreign.exists())
    stmt = (
        update(contacts)
        .where(condition)
        .values(customer_id=to_customer, updated_at=func.now())
        .returning(contacts.c.id)
    )
    return [row.id for row in (await conn.execute(stmt)).all()]


async def insert_contact_intake(
    conn: AsyncConnection, *, customer_id: uuid.UUID, source_ref: str, name: str, phone: str, email: str
) -> None:
    """Queue the person a resolve named, in the resolve's transaction."""
    await conn.execute(
        insert(contact_intake).values(
            id=uuid.uuid4(), customer_id=customer_id, source_ref=source_ref, name=name, phone=phone, email=email
        )
    )


_CLAIM_CONTACT_INTAKE = (
    select(contact_intake, customers.c.merged_into.label("account_merged_into"))
    .join(customers, customers.c.id == contact_intake.c.customer_id)
    .where(contact_intake.c.attempts < bindparam("max_attempts"))
    .order_by(contact_intake.c.received_at)
    .limit(bindparam("limit"))
    .with_for_update(of=contact_intake, skip_locked=True)
)


async def claim_contact_intake(conn: AsyncConnection, *, limit: int, max_attempts: int) -> list[Row]:
    """The oldest queued people no other worker holds, locked until the caller's transaction ends; each with
    account_merged_into, its account's merged_into (so that only merged accounts cost a lookup)."""
    return list((await conn.execute(_CLAIM_CONTACT_INTAKE, {"limit": limit, "max_attempts": max_attempts})).all())


async def delete_contact_intake(conn: AsyncConnection, *, ids: list[uuid.UUID]) -> None:
    """Forget queued people once linked."""
    if ids:
        await conn.execute(delete(contact_intake).where(contact_intake.c.id.in_(ids)))


async def fail_contact_intake(conn: AsyncConnection, *, intake_id: uuid.UUID, error: str) -> None:
    """Count a failed attempt (the row stays: after the last attempt an operator sees it with its error)."""
    stmt = (
        update(contact_intake)
        .where(contact_intake.c.id == intake_id)
        .values(attempts=contact_intake.c.attempts + 1, error=error[:1000])
    )
    await conn.execute(stmt)


async def live_accounts(conn: AsyncConnection, *, customer_ids: list[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID]:
    """For each of these customers that was merged, the live survivor it was folded into."""
    if not customer_ids:
        return {}
    query = select(customers).where(customers.c.id.in_(customer_ids), customers.c.merged_into.is_not(None))
    found: dict[uuid.UUID, uuid.UUID] = {}
    for row in (await conn.execute(query)).all():
        survivor = await follow_merges(conn, row=row)
        if survivor is not None:
            found[row.id] = survivor.id
    return found


async def lock_key_list(conn: AsyncConnection, *, lock_names: list[str]) -> None:
    """lock_keys in one statement: unnest yields the names in list order, so pass them sorted."""
    if lock_names:
        await conn.execute(
            text("SELECT count(pg_advisory_xact_lock(hashtextextended(name, 0))) FROM unnest(:names) AS name").bindparams(
                bindparam("names", type_=ARRAY(Text))
            ),
            {"names": lock_names},
        )


async def contact_source_refs(
    conn: AsyncConnection, *, customer_ids: list[uuid.UUID], source_refs: list[str]
) -> set[tuple[uuid.UUID, str]]:
    """Which of these (account, source_ref) pairs have a contact source record already."""
    if not source_refs:
        return set()
    query = select(contact_sources.c.customer_id, contact_sources.c.source_ref).where(
        contact_sources.c.customer_id.in_(customer_ids), contact_sources.c.source_ref.in_(source_refs)
    )
    return {(row.customer_id, row.source_ref) for row in (await conn.execute(query)).all()}


async def contacts_by_keys(conn: AsyncConnection, *, keys: list[str], customer_ids: list[uuid.UUID]) -> list[Row]:
    """Live contacts of these accounts holding any of these blocking keys, with the ones they hold as hit_keys."""
    if not keys:
        return []
    query = (
        select(contacts, func.array_agg(contact_keys.c.key).label("hit_keys"))
        .join(contact_keys, contact_keys.c.contact_id == contacts.c.id)
        .where(
            contact_keys.c.key.in_(keys),
            contacts.c.customer_id.in_(customer_ids),
            contacts.c.merged_into.is_(None),
        )
        .group_by(contacts.c.id)
    )
    return list((await conn.execute(query)).all())


# The last write of a batch in one statement: accounts marked for a rebuild, the batch's queue rows forgotten, and
# the contacts' new keys (after the contacts they name, which earlier statements wrote).
_INTAKE_FINISH = text(
    f"WITH marked AS (INSERT INTO {account_golden.fullname} (customer_id, rules_version) "
    "SELECT unnest(:stale), -1 ON CONFLICT (customer_id) DO UPDATE SET rules_version = -1), "
    f"done AS (DELETE FROM {contact_intake.fullname} WHERE id = ANY(:done)) "
    f"INSERT INTO {contact_keys.fullname} (key, contact_id) SELECT * FROM unnest(:keys, :ids) ON CONFLICT DO NOTHING"
).bindparams(
    bindparam("stale", type_=ARRAY(UUID(as_uuid=True))),
    bindparam("done", type_=ARRAY(UUID(as_uuid=True))),
    bindparam("keys", type_=ARRAY(Text)),
    bindparam("ids", type_=ARRAY(UUID(as_uuid=True))),
)


async def write_intake_batch(
    conn: AsyncConnection,
    *,
    created: list[dict[str, Any]],
    updated: list[dict[str, Any]],
    sources: list[dict[str, Any]],
    keys: list[tuple[str, uuid.UUID]],
    stale_accounts: list[uuid.UUID],
    done: list[uuid.UUID],
) -> None:
    """Every write of an intake batch: new contacts, changed goldens and sources a statement each, then the keys,
    the accounts' marks and forgetting the batch's queue rows (done) together."""
    if created:
        await conn.execute(insert(contacts), created)
    if updated:
        stmt = (
            update(contacts)
            .where(contacts.c.id == bindparam("b_id"))
            .values(
                name=bindparam("name"),
                phone_e164=bindparam("phone_e164"),
                email_normalized=bindparam("email_normalized"),
                provenance=bindparam("provenance"),
                rules_version=bindparam("rules_version"),
                updated_at=func.now(),
            )
        )
        await conn.execute(stmt, [{**{k: v for k, v in c.items() if k != "id"}, "b_id": c["id"]} for c in updated])
    if sources:
        await conn.execute(insert(contact_sources), sources)
    params = {"stale": stale_accounts, "done": done, "keys": [k for k, _ in keys], "ids": [i for _, i in keys]}
    await conn.execute(_INTAKE_FINISH, params)
