"""Survivorship: which source record's value each golden field takes, by a rule per field an administrator sets."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from crm.events.v1 import customer_events_pb2
from crm_common.errors import FieldViolation, InvalidArgument
from crm_common.service import Runtime
from customer_master import repository
from customer_master.domain import normalize_company
from customer_master.names import fold, has_han, normalize_company_name, normalize_person_name

log = logging.getLogger(__name__)

MOST_TRUSTED = "most_trusted"
MOST_RECENT = "most_recent"
MOST_COMPLETE = "most_complete"
RULE_NAMES = (MOST_TRUSTED, MOST_RECENT, MOST_COMPLETE)

# The golden fields each entity builds from its source records. Credit code and first cooperation date have no
# source values (only stewards set them). An account's phone and email are its exact match keys: replacing one with
# another source's value would leave the records that brought the old one unable to find their account, so they
# stay as first captured; every phone and email of a person is kept, and findable, on the contact.
FIELDS = {"account": ("name", "company"), "contact": ("name", "phone", "email")}
DEFAULTS: dict[str, dict[str, dict[str, Any]]] = {
    "account": {
        "name": {"rule": MOST_COMPLETE},
        "company": {"rule": MOST_COMPLETE},
    },
    "contact": {
        "name": {"rule": MOST_COMPLETE},
        "phone": {"rule": MOST_RECENT},
        "email": {"rule": MOST_RECENT},
    },
}
SURVIVORSHIP_ACTOR = "survivorship"
CUSTOMER_UPDATED = "crm.customer.updated"


@dataclass(frozen=True)
class FieldRule:
    """How one golden field picks its value; sources ranks systems, most trusted first (most_trusted only)."""

    rule: str
    sources: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"rule": self.rule, "sources": list(self.sources)} if self.sources else {"rule": self.rule}


@dataclass(frozen=True)
class Rules:
    """The rules in force: a version (0 = the shipped defaults, never stored) and a rule per entity and field."""

    version: int
    fields: dict[str, dict[str, FieldRule]]

    def to_dict(self) -> dict[str, Any]:
        """JSON form, without the version."""
        return {entity: {f: r.to_dict() for f, r in rules.items()} for entity, rules in self.fields.items()}


def default_rules() -> Rules:
    """The rules the service ships with."""
    return Rules(0, parse_rules({}))


def parse_rules(data: Any) -> dict[str, dict[str, FieldRule]]:
    """Rules from their JSON form (omitted fields keep their defaults), or InvalidArgument naming every problem."""
    if not isinstance(data, dict):
        raise InvalidArgument([FieldViolation("rules", "must be a JSON object of account and contact rules")])
    violations = [
        FieldViolation(f"rules.{entity}", f"unknown entity; known: {', '.join(FIELDS)}")
        for entity in data
        if entity not in FIELDS
    ]
    parsed: dict[str, dict[str, FieldRule]] = {}
    for entity, fields in FIELDS.items():
        given = data.get(entity, {})
        if not isinstance(given, dict):
            violations.append(FieldViolation(f"rules.{entity}", "must be an object of field → rule"))
            given = {}
        violations += [
            FieldViolation(f"rules.{entity}.{name}", f"unknown field; known: {', '.join(fields)}")
            for name in given
            if name not in fields
        ]
        parsed[entity] = {}
        for name in fields:
            rule, problems = _field_rule(f"rules.{entity}.{name}", given.get(name, DEFAULTS[entity][name]))
            parsed[entity][name] = rule
            violations += problems
    if violations:
        raise InvalidArgument(violations)
    return parsed


def _field_rule(path: str, spec: Any) -> tuple[FieldRule, list[FieldViolation]]:
    if isinstance(spec, str):
        spec = {"rule": spec}
    if not isinstance(spec, dict):
        return FieldRule(MOST_RECENT), [FieldViolation(path, 'must be an object such as {"rule": "most_recent"}')]
    problems = [FieldViolation(f"{path}.{key}", "unknown key; known: rule, sources") for key in spec if key not in ("rule", "sources")]
    rule = spec.get("rule")
    if rule not in RULE_NAMES:
        problems.append(FieldViolation(f"{path}.rule", f"unknown rule {rule!r}; known: {', '.join(RULE_NAMES)}"))
    sources = spec.get("sources", [])
    if not isinstance(sources, list) or not all(isinstance(s, str) and s.strip() for s in sources):
        problems.append(FieldViolation(f"{path}.sources", "must be a list of source system names"))
        sources = []
    elif rule == MOST_TRUSTED and not sources:
        problems.append(FieldViolation(f"{path}.sources", "most_trusted needs the source systems, most trusted first"))
    elif rule != MOST_TRUSTED and sources:
        problems.append(FieldViolation(f"{path}.sources", "only most_trusted takes a list of sources"))
    elif len(set(sources)) != len(sources):
        problems.append(FieldViolation(f"{path}.sources", "lists a source system twice"))
    return FieldRule(rule if rule in RULE_NAMES else MOST_RECENT, tuple(s.strip() for s in sources)), problems


async def current_rules(conn: AsyncConnection) -> Rules:
    """The highest stored version, or the defaults when an administrator never set any."""
    row = await repository.get_survivorship_rules(conn)
    return Rules(row.version, parse_rules(row.rules)) if row is not None else default_rules()


# Rules read per database for a few seconds: capture then costs no statement for them. A contact folded under
# rules another replica has just replaced carries the old version, and the rebuild loop redoes it.
RULES_CACHE_SECONDS = 5.0
_rules_cache: dict[str, tuple[float, Rules]] = {}


async def cached_rules(conn: AsyncConnection) -> Rules:
    """current_rules, remembered for RULES_CACHE_SECONDS (and forgotten at once when this process stores rules)."""
    key = str(conn.engine.url)
    now = time.monotonic()
    hit = _rules_cache.get(key)
    if hit is not None and now - hit[0] < RULES_CACHE_SECONDS:
        return hit[1]
    rules = await current_rules(conn)
    _rules_cache[key] = (now, rules)
    return rules


async def rules_version(conn: AsyncConnection, version: int) -> Rules:
    """One stored version (0 = the defaults), or None-like InvalidArgument when it does not exist."""
    if version == 0:
        return default_rules()
    row = await repository.get_survivorship_rules(conn, version=version)
    if row is None:
        raise InvalidArgument([FieldViolation("version", f"no survivorship rules version {version}")])
    return Rules(row.version, parse_rules(row.rules))


async def store_rules(conn: AsyncConnection, data: Any, *, actor_id: str, reason: str) -> Rules:
    """Validate and store a new version; golden records are rebuilt afterwards by rebuild_pending."""
    parsed = parse_rules(data)
    rules = Rules(0, parsed)
    row = await repository.insert_survivorship_rules(conn, rules=rules.to_dict(), set_by=actor_id, reason=reason)
    _rules_cache.pop(str(conn.engine.url), None)
    return Rules(row.version, parsed)


def source_system(source_ref: str) -> str:
    """The system a source record came from: the part of its ref before the first colon (lead:…, erp:…)."""
    system, colon, _ = source_ref.partition(":")
    return system.strip().lower() if colon and system.strip() else "unknown"


@dataclass(frozen=True)
class SourceValue:
    """One source record's value of one field, with what the rules compare: system, time, completeness."""

    source_id: str
    system: str
    at: datetime
    value: str


def completeness(field: str, value: str) -> tuple[int, int, int]:
    """How complete a value is: a full name beats a surname, characters beat pinyin, then the longer form wins."""
    if field == "name":
        person = normalize_person_name(value)
        partial = person.title_only or (bool(person.surname) and not person.given)
        # 张丽 says which characters Zhang Li is written with; length is counted in pinyin so scripts compare.
        return (0 if partial else 1), int(has_han(value)), len(person.latin.replace(" ", ""))
    return 1, 1, len("".join(fold(value).split()))


def _order(rule: FieldRule, field: str) -> Callable[[SourceValue], tuple[Any, ...]]:
    if rule.rule == MOST_TRUSTED:
        rank = {system: len(rule.sources) - i for i, system in enumerate(rule.sources)}
        return lambda v: (rank.get(v.system, 0), v.at, v.source_id)
    if rule.rule == MOST_COMPLETE:
        return lambda v: (completeness(field, v.value), v.at, v.source_id)
    return lambda v: (v.at, v.source_id)


def choose(rule: FieldRule, field: str, values: Iterable[SourceValue]) -> SourceValue | None:
    """The surviving value (empty values never survive); ties go to the most recent source."""
    present = [v for v in values if v.value and v.value.strip()]
    return max(present, key=_order(rule, field)) if present else None


def provenance_entry(value: SourceValue, rule: FieldRule) -> dict[str, Any]:
    """Where a golden value came from (stored, so that the next source is compared with it alone)."""
    return {
        "source_id": value.source_id,
        "system": value.system,
        "at": value.at.isoformat(),
        "rule": rule.rule,
        "value": value.value,
    }


def from_provenance(entry: dict[str, Any]) -> SourceValue:
    """The SourceValue a provenance entry describes."""
    return SourceValue(entry["source_id"], entry["system"], datetime.fromisoformat(entry["at"]), entry["value"])


# Contacts.


def contact_values(source: Row) -> dict[str, SourceValue]:
    """A contact source row's values per golden field."""
    values = {"name": source.name, "phone": source.phone_e164, "email": source.email_normalized}
    return {
        field: SourceValue(str(source.id), source.source_system, source.observed_at, value or "")
        for field, value in values.items()
    }


def contact_golden(rules: Rules, candidates: dict[str, list[SourceValue]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Golden column values and provenance of a contact, from its values per field."""
    columns = {"name": "name", "phone": "phone_e164", "email": "email_normalized"}
    values: dict[str, Any] = {}
    provenance: dict[str, Any] = {}
    for field, rule in rules.fields["contact"].items():
        winner = choose(rule, field, candidates.get(field, []))
        values[columns[field]] = winner.value if winner else (None if field != "name" else "")
        if winner:
            provenance[field] = provenance_entry(winner, rule)
    return values, provenance


async def rebuild_contact(conn: AsyncConnection, *, contact_id: uuid.UUID, rules: Rules) -> Row:
    """Recompute a contact's golden fields from all its source records."""
    sources = await repository.list_contact_sources(conn, contact_id=contact_id)
    if not sources:
        # A merged contact lends its sources to its survivor: nothing to build, but built under these rules.
        return await repository.update_contact(conn, contact_id=contact_id, values={"rules_version": rules.version})
    by_field: dict[str, list[SourceValue]] = {}
    for source in sources:
        for field, value in contact_values(source).items():
            by_field.setdefault(field, []).append(value)
    values, provenance = contact_golden(rules, by_field)
    return await repository.update_contact(
        conn, contact_id=contact_id, values={**values, "provenance": provenance, "rules_version": rules.version}
    )


# Accounts.

ACCOUNT_COLUMNS = {"name": "name", "company": "company"}


def account_values(source: Row) -> dict[str, SourceValue]:
    """A customer source row's values per golden field."""
    values = {"name": source.name, "company": source.company}
    system = source_system(source.source_ref)
    return {
        field: SourceValue(str(source.id), system, source.created_at, (value or "").strip())
        for field, value in values.items()
    }


def _column_values(field: str, value: str | None) -> dict[str, Any]:
    """The columns one account field sets (a company also sets its match keys)."""
    if field == "company":
        name = normalize_company_name(value) if value else None
        return {
            "company": value,
            "company_normalized": normalize_company(value) if value else None,
            "company_latin": (name.latin or None) if name else None,
        }
    return {ACCOUNT_COLUMNS[field]: value if value is not None or field != "name" else ""}


@dataclass(frozen=True)
class AccountRebuild:
    """What a rebuild changed ({field: (old, new)}) and what it left alone and why."""

    changed: dict[str, tuple[Any, Any]]
    kept: dict[str, str]


async def rebuild_account(
    conn: AsyncConnection, *, customer_id: uuid.UUID, rules: Rules, owners: dict[str, str]
) -> AccountRebuild:
    """Recompute an account's golden fields from its source records; fields pinned by their owner stay."""
    locked = await repository.lock_customers(conn, customer_ids=[customer_id])
    customer = locked.get(customer_id)
    changed: dict[str, tuple[Any, Any]] = {}
    kept: dict[str, str] = {}
    if customer is None:
        return AccountRebuild(changed, kept)
    if customer.merged_into is not None:
        # A merged record's values live on in its survivor: it is left as it was at the merge.
        await repository.put_account_golden(conn, customer_id=customer_id, rules_version=rules.version, provenance={})
        return AccountRebuild(changed, kept)
    sources = await repository.list_sources(conn, customer_id=customer_id)
    pins = await repository.owner_pins(conn, customer_id=customer_id, owners=owners)
    by_field: dict[str, list[SourceValue]] = {}
    for source in sources:
        for field, value in account_values(source).items():
            by_field.setdefault(field, []).append(value)
    provenance: dict[str, Any] = {}
    updates: dict[str, Any] = {}
    for field, rule in rules.fields["account"].items():
        if field in pins:
            kept[field] = f"set by {pins[field]}: a manual change by the owning role wins until the next one"
            continue
        winner = choose(rule, field, by_field.get(field, []))
        if winner is None:
            continue
        provenance[field] = provenance_entry(winner, rule)
        columns = _column_values(field, winner.value)
        column = ACCOUNT_COLUMNS[field]
        if columns.get(column) == getattr(customer, column):
            continue
        if await _key_taken(conn, customer_id, field, columns):
            kept[field] = "the surviving value is another customer's match key"
            continue
        updates.update(columns)
        changed[field] = (getattr(customer, column), columns[column])
    if updates:
        await repository.update_customer(conn, customer_id=customer_id, values=updates)
        if "company" in changed:
            company = changed["company"][1]
            grams = normalize_company_name(company).grams if company else []
            await repository.replace_grams(conn, customer_id=customer_id, grams=grams)
    await repository.put_account_golden(conn, customer_id=customer_id, rules_version=rules.version, provenance=provenance)
    return AccountRebuild(changed, kept)


async def _key_taken(conn: AsyncConnection, customer_id: uuid.UUID, field: str, columns: dict[str, Any]) -> bool:
    """Whether the unique company key the new value brings belongs to another customer already."""
    if field != "company" or not columns.get("company_normalized"):
        return False
    holder = await repository.key_holder(conn, key="company", value=columns["company_normalized"])
    return holder is not None and holder != customer_id


async def apply_account_rebuild(
    runtime: Runtime, conn: AsyncConnection, *, customer_id: uuid.UUID, rules: Rules, owners: dict[str, str]
) -> AccountRebuild:
    """Rebuild one account, and record every changed field in its history and as a customer.updated event."""
    rebuilt = await rebuild_account(conn, customer_id=customer_id, rules=rules, owners=owners)
    reason = f"survivorship rules v{rules.version}"
    await repository.insert_changes(
        conn,
        changes=[
            {
                "customer_id": customer_id,
                "field": field,
                "old_value": None if old is None else str(old),
                "new_value": None if new is None else str(new),
                "actor_id": SURVIVORSHIP_ACTOR,
                "actor_role": "",
                "reason": f"{reason}: {rules.fields['account'][field].rule}",
            }
            for field, (old, new) in rebuilt.changed.items()
        ],
    )
    for field in rebuilt.changed:
        await runtime.stage(
            conn,
            CUSTOMER_UPDATED,
            customer_events_pb2.CustomerUpdated(customer_id=str(customer_id), field=field, at=_now()),
        )
    return rebuilt


async def rebuild_pending(runtime: Runtime, owners: dict[str, str], *, batch: int = 100, cursor: Cursor | None = None) -> int:
    """One round of rebuilding golden records not built under the rules in force; returns how many were rebuilt."""
    async with runtime.db.connect() as conn:
        rules = await current_rules(conn)
        contact_ids = await repository.stale_contacts(conn, version=rules.version, limit=batch)
        account_ids: list[uuid.UUID] = []
        if rules.version > 0:
            # Accounts follow survivorship once an administrator stored rules; before, they keep their first values.
            account_ids = await repository.marked_accounts(conn, limit=batch)
            cursor = cursor if cursor is not None else Cursor()
            if cursor.version != rules.version:
                cursor.version, cursor.after, cursor.done = rules.version, None, False
            if len(account_ids) < batch and not cursor.done:
                scanned = await repository.stale_accounts(
                    conn, version=rules.version, after=cursor.after, limit=batch - len(account_ids)
                )
                cursor.after = scanned[-1] if scanned else cursor.after
                cursor.done = len(scanned) < batch - len(account_ids)
                account_ids += [a for a in scanned if a not in account_ids]
    for contact_id in contact_ids:
        async with runtime.db.transaction() as conn:
            contact = await repository.get_contact(conn, contact_id=contact_id)
            if contact is None:
                continue
            # The account's capture lock: a capture folding a new source in meanwhile would be overwritten.
            await repository.lock_keys(conn, lock_names=[f"customer_master:contacts:{contact.customer_id}"])
            await rebuild_contact(conn, contact_id=contact_id, rules=rules)
    for customer_id in account_ids:
        async with runtime.db.transaction() as conn:
            await apply_account_rebuild(runtime, conn, customer_id=customer_id, rules=rules, owners=owners)
    if contact_ids or account_ids:
        log.info(
            "golden records rebuilt",
            extra={"rules_version": rules.version, "contacts": len(contact_ids), "accounts": len(account_ids)},
        )
    return len(contact_ids) + len(account_ids)


@dataclass
class Cursor:
    """Where the scan for accounts never built under the rules in force has got to."""

    version: int = -1
    after: uuid.UUID | None = None
    done: bool = False


async def rebuild_all(runtime: Runtime, owners: dict[str, str], *, batch: int = 100) -> int:
    """Rebuild until nothing is left (tests and small bases; the service's loop does it in rounds)."""
    cursor, total = Cursor(), 0
    while True:
        done = await rebuild_pending(runtime, owners, batch=batch, cursor=cursor)
        total += done
        if done == 0 and (cursor.done or cursor.version <= 0):
            return total


def _now() -> Timestamp:
    stamp = Timestamp()
    stamp.GetCurrentTime()
    return stamp
