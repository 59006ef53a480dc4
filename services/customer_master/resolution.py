"""Resolving the customer behind a lead: exact keys first, then scored candidates from the blocked search."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from crm.events.v1 import customer_events_pb2
from crm_common.errors import FieldViolation, InvalidArgument
from crm_common.metrics import CUSTOMER_MATCH_DURATION, CUSTOMERS_RESOLVED
from crm_common.service import Runtime
from customer_master import contacts, repository
from customer_master.convert import to_timestamp
from customer_master.domain import MATCH_ORDER, MatchKeys, match_keys, validate_keys
from customer_master.matching import (
    AUTO_MATCH,
    REVIEW,
    MatchResult,
    MatchRules,
    Record,
    core_similarities,
    normalize_credit_code,
    score_pair,
    valid_credit_code,
)
from customer_master.names import CompanyName, has_han, normalize_company_name

log = logging.getLogger(__name__)

CUSTOMER_CREATED = "crm.customer.created"
MATCH_RULES_KEY = "match_rules"


@dataclass(frozen=True)
class ResolveRequest:
    """What a caller knows about a customer (phone in E.164) and which record asks."""

    name: str = ""
    company: str = ""
    phone: str = ""
    email: str = ""
    source_ref: str = ""
    credit_code: str = ""


@dataclass(frozen=True)
class Resolution:
    """The customer found or created, and how; review_id when the pair awaits a steward."""

    customer: Row
    created: bool
    matched_on: str
    review_id: str = ""
    explanation: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ScoredCandidate:
    """An existing customer and how it compares with the record asked about."""

    row: Row
    result: MatchResult


def record_of(row: Row) -> Record:
    """The matching view of a customers row."""
    return Record(
        company=row.company or "",
        credit_code=row.credit_code or "",
        phone=row.phone_e164 or "",
        email=row.email_normalized or "",
        contact=row.name or "",
    )


def credit_code_violations(code: str) -> list[FieldViolation]:
    """A credit code given must carry its GB 32100-2015 check character."""
    if code and not valid_credit_code(code):
        return [FieldViolation("credit_code", "is not a valid unified social credit code (GB 32100-2015)")]
    return []


async def load_rules(conn: AsyncConnection) -> MatchRules:
    """The match rules an administrator stored, or the defaults."""
    stored = await repository.get_setting(conn, key=MATCH_RULES_KEY)
    return MatchRules.from_dict(stored) if stored else MatchRules()


# A capture reads the rules at most this often: they change by hand, a resolve runs per lead. SetMatchRules
# forgets them at once in its own process; another replica follows within this many seconds.
RULES_TTL_SECONDS = 5.0
_rules_cache: dict[str, Any] = {"at": -RULES_TTL_SECONDS, "rules": None}


async def cached_rules(conn: AsyncConnection) -> MatchRules:
    """load_rules, reused for RULES_TTL_SECONDS."""
    now = time.monotonic()
    if _rules_cache["rules"] is None or now - _rules_cache["at"] >= RULES_TTL_SECONDS:
        _rules_cache.update(rules=await load_rules(conn), at=now)
    return _rules_cache["rules"]


def forget_rules() -> None:
    """Make the next resolve read the rules again (they were just changed)."""
    _rules_cache.update(rules=None)


# How many candidates a search scores.
CANDIDATES = 50


async def scored_candidates(
    conn: AsyncConnection,
    query: Record,
    rules: MatchRules,
    *,
    limit: int = CANDIDATES,
    exclude: Row | None = None,
    keys_checked: bool = False,
) -> list[ScoredCandidate]:
    """Candidates from the blocked search, scored and sorted best first; pairs declared distinct are left out.

    keys_checked: the caller already looked the exact keys up and found nobody, so they are not searched again.
    """
    started = time.perf_counter()
    company = normalize_company_name(query.company) if query.company else None
    code = normalize_credit_code(query.credit_code)
    rows = await repository.find_candidates(
        conn,
        company_grams=company.grams if company else [],
        company_latin=company.latin if company else None,
        phone=None if keys_checked else query.phone or None,
        email=None if keys_checked else query.email or None,
        credit_code=code if valid_credit_code(code) and not keys_checked else None,
        limit=limit,
        exclude=exclude.id if exclude is not None else None,
        rank=_by_core_similarity(company) if company is not None and has_han(company.core) else None,
    )
    distinct = await repository.rejected_partners(conn, customer_id=exclude.id) if exclude is not None else set()
    scored = _scored(query, [row for row in rows if row.id not in distinct], rules)
    CUSTOMER_MATCH_DURATION.observe(time.perf_counter() - started)
    return scored


async def _scored_pool(
    conn: AsyncConnection, query: Record, rules: MatchRules, company: CompanyName, pool: list[repository.PoolEntry]
) -> list[ScoredCandidate]:
    """scored_candidates with the exact keys checked, from a candidate pool already read (resolve_lookup's)."""
    started = time.perf_counter()
    rows = await repository.pooled_customers(conn, pool=pool, limit=CANDIDATES, rank=_by_core_similarity(company))
    scored = _scored(query, rows, rules)
    CUSTOMER_MATCH_DURATION.observe(time.perf_counter() - started)
    return scored


def _scored(query: Record, rows: list[Row], rules: MatchRules) -> list[ScoredCandidate]:
    scored = [ScoredCandidate(row, score_pair(query, record_of(row), rules)) for row in rows]
    scored.sort(key=lambda c: c.result.score, reverse=True)
    return scored


def _by_core_similarity(company: CompanyName) -> Callable[[list[repository.PoolEntry]], list[uuid.UUID]]:
    """Orders a candidate pool by the scorer's similarity of the cores, best first (ties keep the index's order)."""

    def rank(pool: list[repository.PoolEntry]) -> list[uuid.UUID]:
        scores = core_similarities(company, [entry[1] for entry in pool], [entry[2] for entry in pool])
        return [pool[i][0] for i in np.argsort(-scores, kind="stable")]

    return rank


async def resolve_customer(runtime: Runtime, request: ResolveRequest) -> Resolution:
    """Exact keys, then scored candidates: auto-match, or create and queue the best uncertain pair for review."""
    keys = match_keys(phone=request.phone, email=request.email, company=request.company)
    code = normalize_credit_code(request.credit_code)
    violations = validate_keys(keys) if not code else []
    violations += credit_code_violations(code)
    if violations:
        raise InvalidArgument(violations)
    lock_names = keys.lock_names() + ([f"customer_master:credit_code:{code}"] if code else [])
    exact = ([("credit_code", code)] if code else []) + keys.present()
    company = normalize_company_name(request.company) if request.company else None
    # A property computed on every read: once here.
    company_grams = company.grams if company is not None else []
    query = Record(
        company=request.company,
        credit_code=code,
        phone=keys.phone or "",
        email=keys.email or "",
        contact=request.name,
    )
    async with runtime.db.transaction() as conn:
        grams = await repository.search_grams(conn, grams=company_grams) if company_grams else []
        # Locks on every key first: a concurrent resolve sharing any key waits, then finds what this one made. The
        # candidate pool comes with the lookup (when no key matched), as scored_candidates would search it.
        lookup = await repository.resolve_lookup(
            conn,
            lock_names=sorted(lock_names),
            keys=exact,
            grams=grams,
            query_keys=len(company_grams),
            pool_size=CANDIDATES * repository.POOL_FACTOR,
        )
        rules = await cached_rules(conn)
        found, matched_on, held = await _confirmed_holder(conn, query, rules, lookup.holders, exact)
        best: ScoredCandidate | None = None
        if found is None:
            if lookup.pool is not None and company is not None:
                candidates = await _scored_pool(conn, query, rules, company, lookup.pool)
            else:
                candidates = await scored_candidates(conn, query, rules, keys_checked=True)
            best = next((c for c in candidates if c.result.decision in (AUTO_MATCH, REVIEW)), None)
            if best is not None and best.result.decision == AUTO_MATCH:
                found, matched_on = best.row, "fuzzy"
        source = (
            repository.SourceRecord(
                source_ref=request.source_ref,
                name=request.name.strip() or None,
                company=request.company.strip() or None,
                phone=keys.phone,
                email=request.email.strip() or None,
                matched_on=matched_on or "created",
            )
            if request.source_ref
            else None
        )
        person = await contacts.capture_resolved(conn, request=request)
        created = found is None
        review_id = ""
        if found is None:
            # A key another customer holds stays with it: the new customer is found by its other keys.
            own = replace(keys, **{name: None for name in held if name in MATCH_ORDER})
            customer = await _create(runtime, conn, request, own, code, company, company_grams, source, person)
            if best is not None:
                # Capture never waits for a human: the new record stands until a steward merges it.
                review = await repository.insert_review(
                    conn,
                    customer_id=customer.id,
                    candidate_id=best.row.id,
                    score=best.result.score,
                    explanation=best.result.explanation(),
                )
                review_id = str(review.id)
        else:
            customer = await repository.record_resolved(conn, customer_id=found.id, source=source, person=person)
    CUSTOMERS_RESOLVED.labels(matched_on or "created").inc()
    log.info(
        "customer resolved",
        extra={
            "customer_id": str(customer.id),
            "customer_created": created,
            "matched_on": matched_on,
            "review_id": review_id,
            "source_ref": request.source_ref,
        },
    )
    return Resolution(
        customer=customer,
        created=created,
        matched_on=matched_on,
        review_id=review_id,
        explanation=best.result.explanation() if best is not None else {},
    )


async def _confirmed_holder(
    conn: AsyncConnection, query: Record, rules: MatchRules, holders: list[Row], keys: list[tuple[str, str]]
) -> tuple[Row | None, str, set[str]]:
    """The customer behind the first exact key whose record the account decision auto-matches, and that key.

    A key is a shortcut to a candidate, not a decision: a person's phone held by a customer of another company
    (the person moved, or gave a private number for two employers) does not make the lead that company's. The
    record that holds the key is compared (a merged one too: its key now leads to its survivor). The third value
    names the keys held by a record, matched or not: a customer created now cannot hold them as well.
    """
    held = {key for key, _ in repository.key_holders(holders=holders, keys=keys)}
    for key, row in repository.key_holders(holders=holders, keys=keys):
        if score_pair(query, record_of(row), rules).decision == AUTO_MATCH:
            return await repository.follow_merges(conn, row=row), key, held
    return None, "", held


async def _create(
    runtime: Runtime,
    conn: AsyncConnection,
    request: ResolveRequest,
    keys: MatchKeys,
    code: str,
    company: CompanyName | None,
    company_grams: list[str],
    source: repository.SourceRecord | None,
    person: repository.Person | None,
) -> Row:
    """The new customer with its keys, source record and person (one statement), and its CustomerCreated event."""
    stored = request.company.strip()
    # The name as stored is parsed for its keys: the request's parse (and its keys) when they are the same text.
    parsed = normalize_company_name(stored) if stored else None
    if parsed is None:
        grams = []
    elif parsed is company:
        grams = company_grams
    else:
        grams = parsed.grams
    customer = await repository.create_resolved(
        conn,
        name=request.name.strip(),
        company=stored or None,
        company_normalized=keys.company,
        phone_e164=keys.phone,
        email_normalized=keys.email,
        credit_code=code or None,
        company_latin=parsed.latin or None if parsed is not None else None,
        company_grams=grams,
        source=source,
        person=person,
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
    return customer
