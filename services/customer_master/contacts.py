"""Contacts (people of an account): name forms across scripts, phone and email keys, scoring, capture."""

from __future__ import annotations

import logging
import re
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from rapidfuzz import fuzz
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from crm_common import contact_points
from crm_common.contact_points import DEFAULT_REGION
from crm_common.errors import FieldViolation, InvalidArgument
from customer_master import repository, survivorship
from customer_master.matching import AUTO_MATCH, NO_MATCH, REVIEW, FieldScore, MatchResult
from customer_master.names import fold, has_han, normalize_person_name, to_latin

log = logging.getLogger(__name__)

_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)
_LATIN_TITLES = frozenset("mr mrs ms miss dr prof sir madam mister".split())
# Surnames read differently from the same character elsewhere: 单 is Shan, 曾 Zeng, 解 Xie as a surname.
_SURNAME_READINGS = {
    "单": "shan",
    "曾": "zeng",
    "解": "xie",
    "仇": "qiu",
    "查": "zha",
    "区": "ou",
    "朴": "piao",
    "盖": "ge",
    "乐": "yue",
    "覃": "qin",
    "翟": "zhai",
    "缪": "miao",
    "召": "shao",
    "种": "chong",
    "秘": "bi",
    "尉迟": "yuchi",
    "万俟": "moqi",
}


@dataclass(frozen=True)
class ContactName:
    """A person's name with titles stripped: its Chinese characters (if any), pinyin/Latin tokens, surnames."""

    han: str
    tokens: tuple[str, ...]
    surnames: frozenset[str]
    surname_only: bool
    title: str = ""

    @property
    def latin(self) -> str:
        """The tokens joined by spaces ("zhang li")."""
        return " ".join(self.tokens)


def parse_name(raw: str) -> ContactName:
    """张丽, Zhang Li and Li Zhang share tokens; 张经理, 张总, 王先生 and Mr Zhang are a surname only."""
    text = fold(raw).strip()
    if not text:
        return ContactName("", (), frozenset(), False)
    if has_han(text):
        person = normalize_person_name(raw)
        compact = _NON_WORD.sub("", text)
        title = compact.replace(person.full, "", 1) if person.full in compact else ""
        head = person.full[:2]
        # names.py knows the compound surnames (欧阳, 司马): its surname is then the pinyin of two characters.
        size = 2 if head in _SURNAME_READINGS or (person.surname and to_latin(head) == person.surname) else 1
        surname_han = person.full[:size]
        surname = _SURNAME_READINGS.get(surname_han, to_latin(surname_han))
        given = to_latin(person.full[size:])
        tokens = tuple(t for t in (surname, given) if t)
        return ContactName(person.full, tokens, frozenset({surname}), not given, title)
    words = [w for w in _NON_WORD.split(text) if w]
    titles = [w for w in words if w in _LATIN_TITLES]
    tokens = tuple(w for w in words if w not in _LATIN_TITLES)
    if not tokens:
        return ContactName("", (), frozenset(), False, " ".join(titles))
    # Chinese order (Zhang Li) or Western order (Li Zhang): either end may be the surname.
    surnames = frozenset({tokens[0], tokens[-1]})
    return ContactName("", tokens, surnames, len(tokens) == 1 and bool(titles), " ".join(titles))


def normalize_phone(raw: str, *, region: str = DEFAULT_REGION) -> str | None:
    """E.164 of a phone number in any common form (138 0013 8000, +86-138…, 0571-8888 8888); ValueError if none."""
    return contact_points.phone_e164(raw, region=region)


def normalize_email(raw: str) -> str | None:
    """email-validator's normalised address, lower-cased (mailboxes are case-insensitive in practice)."""
    return contact_points.email_key(raw)


async def lock_accounts(conn: AsyncConnection, *customer_ids: uuid.UUID) -> None:
    """Hold the accounts' contact locks: captures, rebuilds and merges of one account's contacts take turns."""
    await repository.lock_key_list(conn, lock_names=sorted(f"customer_master:contacts:{c}" for c in set(customer_ids)))


def lenient_phone(raw: str) -> str | None:
    """normalize_phone, or the number as given when it cannot be parsed (a value accepted is never dropped)."""
    try:
        return normalize_phone(raw)
    except ValueError:
        return raw.strip() or None


def lenient_email(raw: str) -> str | None:
    """normalize_email, or the address NFKC-folded and lower-cased when it is not valid."""
    return contact_points.lenient_email_key(raw)


@dataclass(frozen=True)
class ContactRecord:
    """One side of a contact comparison: the account, the name, and every phone and email known for it."""

    customer_id: uuid.UUID | None
    name: str = ""
    phones: frozenset[str] = frozenset()
    emails: frozenset[str] = frozenset()


def blocking_keys(record: ContactRecord) -> list[str]:
    """Keys a contact is found by: its phones and emails anywhere, its surnames within its account."""
    keys = [f"p:{p}" for p in record.phones] + [f"e:{e}" for e in record.emails]
    if record.customer_id is not None:
        keys += [f"s:{record.customer_id}:{s}" for s in parse_name(record.name).surnames]
    return sorted(set(keys))


def name_similarity(a: ContactName, b: ContactName) -> tuple[float | None, str]:
    """0-100 similarity of two names in any script and order, and what it rests on."""
    if not a.tokens or not b.tokens:
        return None, ""
    same_surname = bool(a.surnames & b.surnames)
    if a.surname_only or b.surname_only:
        return (60.0 if same_surname else 0.0), "surname only" if same_surname else "surname differs"
    if a.han and b.han:
        if a.han == b.han:
            return 100.0, "same characters"
        if a.tokens == b.tokens:
            # 张丽 and 张莉 sound the same: a homophone is the commonest input slip, and also another person.
            return 90.0, "same pinyin, other characters"
        return float(fuzz.ratio(a.han, b.han)), "characters compared"
    spaced = float(fuzz.token_sort_ratio(a.latin, b.latin))
    joined = float(fuzz.ratio("".join(sorted(a.tokens)), "".join(sorted(b.tokens))))
    score = max(spaced, joined)
    if bool(a.han) != bool(b.han):
        # Pinyin is many characters' reading: Zhang Li is 张丽 or 张力, so a cross-script match is never certain.
        return min(score, 95.0), "compared in pinyin"
    return score, "compared in Latin letters"


CONTACT_MATCH_RULES_KEY = "contact_match_rules"


@dataclass(frozen=True)
class ContactThresholds:
    """Weights and thresholds of contact scoring an administrator may set; the defaults ship with the service."""

    weights: tuple[tuple[str, float], ...] = (("name", 0.4), ("phone", 0.3), ("email", 0.3))
    auto_match: float = 90.0
    review: float = 70.0

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"weights": dict(self.weights), "auto_match": self.auto_match, "review": self.review}


THRESHOLDS = ContactThresholds()


def parse_thresholds(data: Any) -> ContactThresholds:
    """Contact match rules from JSON (omitted keys keep their defaults), or InvalidArgument naming every problem."""
    if not isinstance(data, dict):
        raise InvalidArgument([FieldViolation("rules", "must be a JSON object")])
    violations = [
        FieldViolation(f"rules.{key}", "unknown key; known: weights, auto_match, review")
        for key in data
        if key not in ("weights", "auto_match", "review")
    ]
    weights = dict(THRESHOLDS.weights)
    given = data.get("weights", {})
    if not isinstance(given, dict):
        violations.append(FieldViolation("rules.weights", "must be an object of field → weight"))
        given = {}
    for name, weight in given.items():
        if name not in weights:
            violations.append(FieldViolation(f"rules.weights.{name}", "unknown field; known: name, phone, email"))
        elif not isinstance(weight, int | float) or isinstance(weight, bool) or weight < 0:
            violations.append(FieldViolation(f"rules.weights.{name}", "must be a number ≥ 0"))
        else:
            weights[name] = float(weight)
    if not violations and sum(weights.values()) <= 0:
        violations.append(FieldViolation("rules.weights", "must not all be 0"))
    bounds = {}
    for key in ("auto_match", "review"):
        value = data.get(key, getattr(THRESHOLDS, key))
        if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= 100:
            violations.append(FieldViolation(f"rules.{key}", "must be a number from 0 to 100"))
            value = getattr(THRESHOLDS, key)
        bounds[key] = float(value)
    if bounds["review"] > bounds["auto_match"]:
        violations.append(FieldViolation("rules.review", "must not exceed auto_match"))
    if violations:
        raise InvalidArgument(violations)
    return ContactThresholds(tuple(weights.items()), bounds["auto_match"], bounds["review"])


async def load_thresholds(conn: AsyncConnection) -> ContactThresholds:
    """The contact match rules an administrator stored, or the defaults."""
    stored = await repository.get_setting(conn, key=CONTACT_MATCH_RULES_KEY)
    return parse_thresholds(stored) if stored else THRESHOLDS


_thresholds_cache: dict[str, tuple[float, ContactThresholds]] = {}


async def cached_thresholds(conn: AsyncConnection) -> ContactThresholds:
    """load_thresholds, remembered per database for as long as the survivorship rules are."""
    key, now = str(conn.engine.url), time.monotonic()
    hit = _thresholds_cache.get(key)
    if hit is not None and now - hit[0] < survivorship.RULES_CACHE_SECONDS:
        return hit[1]
    thresholds = await load_thresholds(conn)
    _thresholds_cache[key] = (now, thresholds)
    return thresholds


async def store_thresholds(conn: AsyncConnection, data: Any, *, actor_id: str) -> ContactThresholds:
    """Validate and store the contact match rules."""
    thresholds = parse_thresholds(data)
    await repository.put_setting(conn, key=CONTACT_MATCH_RULES_KEY, value=thresholds.to_dict(), updated_by=actor_id)
    _thresholds_cache.pop(str(conn.engine.url), None)
    return thresholds


def score_contacts(query: ContactRecord, candidate: ContactRecord, thresholds: ContactThresholds = THRESHOLDS) -> MatchResult:
    """Compare two contacts field by field and decide; the rule that decided is named in the result."""
    qname, cname = parse_name(query.name), parse_name(candidate.name)
    name, note = name_similarity(qname, cname)
    phone = _set_score(query.phones, candidate.phones)
    email = _set_score(query.emails, candidate.emails)
    same_account = (
        None if query.customer_id is None or candidate.customer_id is None else query.customer_id == candidate.customer_id
    )
    fields = (
        FieldScore("name", name, note),
        FieldScore("phone", phone),
        FieldScore("email", email),
        FieldScore("account", None if same_account is None else (100.0 if same_account else 0.0)),
    )
    scores = dict((f.field, f.score) for f in fields)
    known = [(scores[f], w) for f, w in thresholds.weights if scores[f] is not None]
    weight = sum(w for _, w in known)
    total = sum(s * w for s, w in known) / weight if weight else 0.0  # type: ignore[operator]
    contact_agrees = phone == 100.0 or email == 100.0
    surname = None if name is None else bool(qname.surnames & cname.surnames)
    surname_only = qname.surname_only or cname.surname_only
    decision, rule = _decide(total, thresholds, contact_agrees=contact_agrees, surname=surname, surname_only=surname_only)
    if same_account is False and decision == AUTO_MATCH:
        decision, rule = REVIEW, "another account: never linked automatically"
    return MatchResult(total, decision, rule, fields)


def _decide(
    total: float, thresholds: ContactThresholds, *, contact_agrees: bool, surname: bool | None, surname_only: bool
) -> tuple[str, str]:
    if surname_only and not contact_agrees:
        return NO_MATCH, "a surname with a title never decides alone"
    if contact_agrees and surname is not False:
        return AUTO_MATCH, "same phone or email, and the name agrees or is unknown"
    if contact_agrees:
        return REVIEW, "same phone or email, but another surname"
    if total >= thresholds.auto_match:
        return AUTO_MATCH, f"score ≥ auto_match {thresholds.auto_match:g}"
    if total >= thresholds.review:
        return REVIEW, f"score ≥ review {thresholds.review:g}"
    return NO_MATCH, f"score < review {thresholds.review:g}"


def _set_score(a: frozenset[str], b: frozenset[str]) -> float | None:
    if not a or not b:
        return None
    return 100.0 if a & b else 0.0


@dataclass(frozen=True)
class ScoredContact:
    """An existing contact and how the record asked about compares with it."""

    row: Row
    result: MatchResult


def candidate_record(row: Row, query: ContactRecord) -> ContactRecord:
    """The matching view of a found contact: its golden values plus the query's keys it was found by."""
    hits = set(row.hit_keys or ())
    phones = {row.phone_e164} if row.phone_e164 else set()
    emails = {row.email_normalized} if row.email_normalized else set()
    # A key hit means some source record of the contact has that phone or email, even if it is not the golden one.
    phones |= {p for p in query.phones if f"p:{p}" in hits}
    emails |= {e for e in query.emails if f"e:{e}" in hits}
    return ContactRecord(row.customer_id, row.name, frozenset(phones), frozenset(emails))


async def scored_contacts(
    conn: AsyncConnection,
    query: ContactRecord,
    *,
    thresholds: ContactThresholds = THRESHOLDS,
    limit: int = 20,
    same_account_only: bool = False,
) -> list[ScoredContact]:
    """Candidates found by the blocking keys (never a scan), scored and sorted best first."""
    rows = await repository.find_contact_candidates(
        conn,
        keys=blocking_keys(query),
        customer_id=query.customer_id if same_account_only else None,
        limit=limit,
    )
    scored = [ScoredContact(row, score_contacts(query, candidate_record(row, query), thresholds)) for row in rows]
    scored.sort(key=lambda c: (c.result.decision == AUTO_MATCH, c.result.score), reverse=True)
    return scored


def match_query(*, customer_id: str, name: str, phone: str, email: str) -> ContactRecord:
    """A MatchContact request as a record, or InvalidArgument naming each field at fault."""
    violations: list[FieldViolation] = []
    account: uuid.UUID | None = None
    if customer_id:
        try:
            account = uuid.UUID(customer_id)
        except ValueError:
            violations.append(FieldViolation("customer_id", "must be a UUID"))
    phones: set[str] = set()
    emails: set[str] = set()
    try:
        phones = {p for p in [normalize_phone(phone)] if p}
    except ValueError as exc:
        violations.append(FieldViolation("phone", f"not a phone number ({exc}); give E.164 such as +8613800138000"))
    try:
        emails = {e for e in [normalize_email(email)] if e}
    except ValueError as exc:
        violations.append(FieldViolation("email", f"not a valid email address: {exc}"))
    if not violations and not phones and not emails and (account is None or not parse_name(name).tokens):
        # A surname alone across the whole base is no blocking key: a name is searched within its account.
        violations.append(FieldViolation("phone", "give a phone or an email, or a customer_id with a name"))
    if violations:
        raise InvalidArgument(violations)
    return ContactRecord(account, name.strip(), frozenset(phones), frozenset(emails))


@dataclass(frozen=True)
class ContactCapture:
    """The contact a captured person was linked to (or created), and the match that decided it."""

    contact: Row
    created: bool
    explanation: dict[str, Any]


async def capture_contact(
    conn: AsyncConnection,
    *,
    customer_id: uuid.UUID,
    source_ref: str,
    name: str,
    phone: str | None,
    email: str | None,
    observed_at: datetime | None = None,
    account_locked: bool = False,
) -> ContactCapture | None:
    """Make one person a source record of one of the account's contacts (new or matched), on its own.

    The intake worker links people a batch at a time (contact_intake.link_batch) and falls back to this one by
    one. Three statements in the usual case: the account's lock, the candidate lookup, and one write of the
    source record, its keys and the golden contact (inserted, or updated from its winners and the new value).
    """
    rules = await survivorship.cached_rules(conn)
    phone_key = lenient_phone(phone or "")
    email_key = lenient_email(email or "")
    person = name.strip()
    # With stored rules, the account's golden fields wait for the rebuild loop: it has a new source record.
    stale_account = customer_id if rules.version > 0 else None
    if not (parse_name(person).tokens or phone_key or email_key):
        if stale_account is not None:
            await repository.mark_account_stale(conn, customer_id=customer_id)
        return None
    query = ContactRecord(
        customer_id, person, frozenset({phone_key} if phone_key else ()), frozenset({email_key} if email_key else ())
    )
    if not account_locked:
        # One capture per account at a time, so two leads naming one new person make one contact.
        await lock_accounts(conn, customer_id)
    found = await scored_contacts(conn, query, thresholds=await cached_thresholds(conn), same_account_only=True)
    best = next((c for c in found if c.result.decision != NO_MATCH), None)
    explanation = best.result.explanation() if best else {"decision": NO_MATCH, "rule": "no candidate"}
    if best is not None:
        # A review leaves a new contact beside this candidate: a steward merges the two, or not.
        explanation["candidate_id"] = str(best.row.id)
    linked = best.row if best is not None and best.result.decision == AUTO_MATCH else None
    contact_id = linked.id if linked is not None else uuid.uuid4()
    source = {
        "id": uuid.uuid4(),
        "contact_id": contact_id,
        "customer_id": customer_id,
        "source_system": survivorship.source_system(source_ref),
        "source_ref": source_ref,
        "name": person or None,
        "phone_e164": phone_key,
        "email_normalized": email_key,
        "match": explanation,
        "observed_at": observed_at or datetime.now(UTC),
    }
    # Built under other rules, a linked contact is rebuilt from every source below: folding one value into its
    # current winners would mix two rule sets.
    stale_rules = linked is not None and linked.rules_version != rules.version
    values, provenance = survivorship.contact_golden(rules, values_of(source, linked.provenance if linked else {}))
    contact, new_source = await repository.write_captured_contact(
        conn,
        contact={"id": contact_id, **values, "provenance": provenance, "rules_version": rules.version},
        create=linked is None,
        source=source,
        keys=blocking_keys(query),
        stale_account=stale_account,
    )
    if not new_source:
        # The same source record was captured before (a repeated resolve): nothing new to learn.
        if linked is None:
            await repository.delete_contact(conn, contact_id=contact_id)
        existing = await repository.contact_of_source(conn, customer_id=customer_id, source_ref=source_ref)
        return ContactCapture(existing, False, explanation) if existing is not None else None
    if stale_rules:
        contact = await survivorship.rebuild_contact(conn, contact_id=contact_id, rules=rules)
    log.debug(
        "contact captured",
        extra={"contact_id": str(contact_id), "contact_created": linked is None, "decision": explanation["decision"]},
    )
    return ContactCapture(contact, linked is None, explanation)


def values_of(source: dict[str, Any], provenance: dict[str, Any]) -> dict[str, list[survivorship.SourceValue]]:
    """Each golden field's contenders: the current winner (from its provenance) and the new source's value."""
    columns = {"name": "name", "phone": "phone_e164", "email": "email_normalized"}
    contenders: dict[str, list[survivorship.SourceValue]] = {}
    for field, column in columns.items():
        current = [survivorship.from_provenance(provenance[field])] if field in provenance else []
        new = survivorship.SourceValue(
            str(source["id"]), source["source_system"], source["observed_at"], source[column] or ""
        )
        contenders[field] = [*current, new]
    return contenders


class PersonFields(Protocol):
    """What a resolve request says about the person behind it."""

    name: str
    phone: str
    email: str
    source_ref: str


async def capture_resolved(conn: AsyncConnection, *, request: PersonFields) -> repository.Person | None:
    """ResolveCustomer's one call: the person it named, which the resolve queues for the intake worker in its own
    write (one statement in its transaction); None when there is nobody to queue."""
    named = any(value.strip() for value in (request.name, request.phone, request.email))
    if not named and (await survivorship.cached_rules(conn)).version == 0:
        return None
    return repository.Person(source_ref=request.source_ref, name=request.name, phone=request.phone, email=request.email)
