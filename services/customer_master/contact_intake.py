"""The intake worker: people named by resolves, linked to contacts a batch at a time, off the capture path."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from crm_common.db import Database
from customer_master import contacts, repository, survivorship
from customer_master.contacts import ContactRecord, blocking_keys, score_contacts
from customer_master.matching import AUTO_MATCH, NO_MATCH, MatchResult

log = logging.getLogger(__name__)

INTAKE_BATCH = 100
INTAKE_MAX_ATTEMPTS = 5


async def process_intake(db: Database, *, batch: int = INTAKE_BATCH) -> int:
    """Link a batch of queued people to contacts, oldest first; returns how many were taken."""
    async with db.transaction() as conn:
        rows = await repository.claim_contact_intake(conn, limit=batch, max_attempts=INTAKE_MAX_ATTEMPTS)
        if not rows:
            return 0
        # An account merged since the resolve: its person joins the survivor's contacts.
        merged = {r.customer_id for r in rows if r.account_merged_into is not None}
        live = await repository.live_accounts(conn, customer_ids=list(merged))
        queued = [(live.get(r.customer_id, r.customer_id), r) for r in rows]
        # Account by account, in time order within each; every account's lock at once, in one order, so that
        # workers of several replicas never deadlock each other, nor a capture or a rebuild of the same account.
        queued.sort(key=lambda pair: (str(pair[0]), pair[1].received_at))
        await contacts.lock_accounts(conn, *(account for account, _ in queued))
        try:
            async with conn.begin_nested():
                # Its last write forgets the batch's queue rows.
                await link_batch(conn, queued)
        except Exception:
            log.warning("contact intake batch failed; linking its people one by one", exc_info=True)
            done = await _link_one_by_one(conn, queued)
            await repository.delete_contact_intake(conn, ids=done)
    return len(rows)


@dataclass
class Pooled:
    """A contact as the batch knows it: found by the lookup, or created or changed by an earlier person."""

    id: uuid.UUID
    customer_id: uuid.UUID
    name: str
    phone_e164: str | None
    email_normalized: str | None
    provenance: dict[str, Any]
    rules_version: int
    keys: set[str]
    created_at: datetime | None = None
    new_keys: set[str] = field(default_factory=set)
    changed: bool = False

    @classmethod
    def of(cls, row: Row) -> Pooled:
        """A found contact (its keys: those of the batch it holds)."""
        return cls(
            row.id,
            row.customer_id,
            row.name,
            row.phone_e164,
            row.email_normalized,
            dict(row.provenance or {}),
            row.rules_version,
            set(row.hit_keys or ()),
        )

    def record(self, query: ContactRecord) -> ContactRecord:
        """The matching view: golden values plus the query's phones and emails some source of it has."""
        phones = {self.phone_e164} if self.phone_e164 else set()
        emails = {self.email_normalized} if self.email_normalized else set()
        phones |= {p for p in query.phones if f"p:{p}" in self.keys}
        emails |= {e for e in query.emails if f"e:{e}" in self.keys}
        return ContactRecord(self.customer_id, self.name, frozenset(phones), frozenset(emails))


def _query_of(account: uuid.UUID, row: Row) -> ContactRecord | None:
    phone, email, name = contacts.lenient_phone(row.phone), contacts.lenient_email(row.email), row.name.strip()
    if not (contacts.parse_name(name).tokens or phone or email):
        return None
    return ContactRecord(account, name, frozenset({phone} if phone else ()), frozenset({email} if email else ()))


def _best(
    query: ContactRecord, pool: list[Pooled], thresholds: contacts.ContactThresholds
) -> tuple[Pooled, MatchResult] | None:
    """The candidate capture_contact would pick: an auto match first, then the best score; never a no_match."""
    scored = [(c, score_contacts(query, c.record(query), thresholds)) for c in pool]
    scored.sort(key=lambda pair: (pair[1].decision == AUTO_MATCH, pair[1].score), reverse=True)
    return next((pair for pair in scored if pair[1].decision != NO_MATCH), None)


async def link_batch(conn: AsyncConnection, queued: list[tuple[uuid.UUID, Row]]) -> None:
    """capture_contact for every queued person, with the reads and the writes of the whole batch done together; the
    queue rows are deleted with the writes."""
    rules = await survivorship.cached_rules(conn)
    thresholds = await contacts.cached_thresholds(conn)
    people = [(account, row, _query_of(account, row)) for account, row in queued]
    accounts = sorted({account for account, _, _ in people}, key=str)
    refs = sorted({row.source_ref for _, row, query in people if query is not None and row.source_ref})
    seen = await repository.contact_source_refs(conn, customer_ids=accounts, source_refs=refs)
    batch_keys = sorted({k for _, _, query in people if query is not None for k in blocking_keys(query)})
    found = await repository.contacts_by_keys(conn, keys=batch_keys, customer_ids=accounts)
    pool = {row.id: Pooled.of(row) for row in found}
    sources: list[dict[str, Any]] = []
    for account, row, query in people:
        if query is None or (account, row.source_ref) in seen:
            continue
        if row.source_ref:
            seen.add((account, row.source_ref))
        keys = set(blocking_keys(query))
        best = _best(query, [c for c in pool.values() if c.customer_id == account and c.keys & keys], thresholds)
        explanation = best[1].explanation() if best else {"decision": NO_MATCH, "rule": "no candidate"}
        if best is not None:
            explanation["candidate_id"] = str(best[0].id)
        if best is not None and best[1].decision == AUTO_MATCH:
            contact = best[0]
        else:
            contact = Pooled(uuid.uuid4(), account, "", None, None, {}, rules.version, set(), row.received_at)
            pool[contact.id] = contact
        source = {
            "id": uuid.uuid4(),
            "contact_id": contact.id,
            "customer_id": account,
            "source_system": survivorship.source_system(row.source_ref),
            "source_ref": row.source_ref,
            "name": query.name or None,
            "phone_e164": next(iter(query.phones), None),
            "email_normalized": next(iter(query.emails), None),
            "match": explanation,
            "observed_at": row.received_at,
        }
        sources.append(source)
        contact.new_keys |= keys - contact.keys
        contact.keys |= keys
        contact.changed = True
        if contact.rules_version == rules.version:
            values, provenance = survivorship.contact_golden(rules, contacts.values_of(source, contact.provenance))
            contact.name, contact.phone_e164 = values["name"], values["phone_e164"]
            contact.email_normalized, contact.provenance = values["email_normalized"], provenance
    changed = [c for c in pool.values() if c.changed]
    await repository.write_intake_batch(
        conn,
        created=[_columns(c) | {"created_at": c.created_at} for c in changed if c.created_at is not None],
        updated=[_columns(c) for c in changed if c.created_at is None],
        sources=sources,
        keys=[(k, c.id) for c in changed for k in sorted(c.new_keys)],
        stale_accounts=accounts if rules.version > 0 else [],
        done=[row.id for _, row in queued],
    )
    for contact in changed:
        if contact.rules_version != rules.version:
            # Built under other rules: rebuilt from every source rather than mixing two rule sets.
            await survivorship.rebuild_contact(conn, contact_id=contact.id, rules=rules)


def _columns(contact: Pooled) -> dict[str, Any]:
    return {
        "id": contact.id,
        "customer_id": contact.customer_id,
        "name": contact.name,
        "phone_e164": contact.phone_e164,
        "email_normalized": contact.email_normalized,
        "provenance": contact.provenance,
        "rules_version": contact.rules_version,
    }


async def _link_one_by_one(conn: AsyncConnection, queued: list[tuple[uuid.UUID, Row]]) -> list[uuid.UUID]:
    """Each person in a savepoint of its own: the others are linked, a failing one keeps its row and its error."""
    done: list[uuid.UUID] = []
    for account, row in queued:
        try:
            async with conn.begin_nested():
                await contacts.capture_contact(
                    conn,
                    customer_id=account,
                    source_ref=row.source_ref,
                    name=row.name,
                    phone=row.phone,
                    email=row.email,
                    observed_at=row.received_at,
                    account_locked=True,
                )
            done.append(row.id)
        except Exception as exc:
            # After the last attempt the row waits for an operator with its error: it is never dropped.
            log.warning("contact intake failed", exc_info=True, extra={"intake_id": str(row.id)})
            await repository.fail_contact_intake(conn, intake_id=row.id, error=repr(exc))
    return done
