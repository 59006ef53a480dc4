"""Scoring a pair of customer records: per-field similarities, weights, thresholds, and the explanation."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import phonenumbers
from rapidfuzz import fuzz, process
from rapidfuzz.distance import LCSseq

from customer_master.names import (
    CompanyName,
    PersonName,
    fold,
    has_han,
    normalize_company_name,
    normalize_person_name,
    to_latin,
)

CREDIT_CODE_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_CODE_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)

_NUMBERS = re.compile(r"\d+")

AUTO_MATCH = "auto_match"
REVIEW = "review"
NO_MATCH = "no_match"


def normalize_credit_code(code: str) -> str:
    """Upper-cased, without spaces and dashes (full-width folded)."""
    if not code:
        return ""
    return "".join(ch for ch in unicodedata.normalize("NFKC", code).upper() if ch.isalnum())


def valid_credit_code(code: str) -> bool:
    """Whether an 18-character unified social credit code carries the right GB 32100-2015 check character."""
    code = normalize_credit_code(code)
    if len(code) != 18 or any(ch not in CREDIT_CODE_CHARS for ch in code):
        return False
    total = sum(CREDIT_CODE_CHARS.index(ch) * w for ch, w in zip(code[:17], _CREDIT_CODE_WEIGHTS, strict=True))
    return CREDIT_CODE_CHARS[(31 - total % 31) % 31] == code[17]


def _regions_agree(a: str, b: str) -> bool:
    strip = str.maketrans("", "", "省市区县")
    # Compared in pinyin, so that Hangzhou and 杭州 agree.
    a, b = to_latin(a.translate(strip)), to_latin(b.translate(strip))
    return not a or not b or a in b or b in a


def company_similarity(a: CompanyName, b: CompanyName) -> tuple[float, str]:
    """0-100 similarity of two company names and the reason that capped it, if any."""
    if a.branch != b.branch:
        return min(60.0, _core_similarity(a, b)), "branch differs"
    if a.qualifier and b.qualifier and a.qualifier != b.qualifier:
        return min(60.0, _core_similarity(a, b)), "bracketed place differs"
    numbers_a, numbers_b = _NUMBERS.findall(a.core), _NUMBERS.findall(b.core)
    if numbers_a and numbers_b and numbers_a != numbers_b:
        # Store 12 and Store 13, 第1分厂 and 第2分厂: names that differ only in a number are siblings, not one.
        return min(60.0, _core_similarity(a, b)), "number differs"
    score = _core_similarity(a, b)
    if not _regions_agree(a.region, b.region):
        return max(0.0, score - 15), "region differs"
    return score, ""


def _core_similarity(a: CompanyName, b: CompanyName) -> float:
    if not a.core or not b.core:
        return 0.0
    if a.core == b.core:
        return 100.0
    if not (has_han(a.core) and has_han(b.core)):
        # Latin on either side: compare in Latin, where pinyin and translated common words meet.
        return _abbreviation_similarity(a.latin, b.latin) if a.latin and b.latin else 0.0
    best = _abbreviation_similarity(a.core, b.core)
    if a.region or b.region:
        # Short names keep part of the place: 上汽 is 上海汽车, 南钢 is 南京钢铁.
        best = max(best, _abbreviation_similarity(a.region[:2] + a.core, b.region[:2] + b.core))
    return best


def _abbreviation_similarity(x: str, y: str) -> float:
    ratio = fuzz.ratio(x, y)
    short, long_ = (x, y) if len(x) <= len(y) else (y, x)
    # A short name is the full name with characters left out, in order (浦发银行 ← 浦东发展银行): score how much
    # of the short name survives in order, damped by how much of the long name it leaves out.
    covered = LCSseq.similarity(short, long_) / len(short)
    starts_alike = short[0] == long_[0]
    abbreviation = 100 * covered * (0.75 + 0.25 * len(short) / len(long_)) * (1.0 if starts_alike else 0.85)
    return max(ratio, abbreviation if len(short) >= 2 else 0.0)


def core_similarities(query: CompanyName, cores: Sequence[str], prefixes: Sequence[str]) -> np.ndarray:
    """_core_similarity of a Chinese query with many Chinese cores (and their place prefixes) at once, in C.

    The same formula as _abbreviation_similarity, from one LCS per pair: it ranks a candidate pool without scoring
    each pair in Python.
    """
    if not cores:
        return np.zeros(0)
    best = _abbreviation_similarities(query.core, list(cores))
    prefix = query.region[:2] if has_han(query.region) else ""
    if prefix or any(prefixes):
        placed = _abbreviation_similarities(prefix + query.core, [p + c for p, c in zip(prefixes, cores, strict=True)])
        best = np.maximum(best, placed)
    return best


def _abbreviation_similarities(x: str, ys: list[str]) -> np.ndarray:
    common = process.cdist([x], ys, scorer=LCSseq.similarity, dtype=np.int32, workers=1)[0].astype(float)
    size_x = len(x)
    sizes = np.fromiter((len(y) for y in ys), dtype=float, count=len(ys))
    short, long_ = np.minimum(sizes, size_x), np.maximum(sizes, size_x)
    ratio = np.where(sizes + size_x > 0, 200.0 * common / np.maximum(sizes + size_x, 1), 100.0)
    starts = np.fromiter((y[:1] == x[:1] for y in ys), dtype=bool, count=len(ys))
    covered = common / np.maximum(short, 1)
    abbreviation = 100 * covered * (0.75 + 0.25 * short / np.maximum(long_, 1)) * np.where(starts, 1.0, 0.85)
    return np.maximum(ratio, np.where(short >= 2, abbreviation, 0.0))


def person_similarity(a: PersonName, b: PersonName) -> tuple[float, bool]:
    """0-100 similarity of two person names (any script, any order) and whether the surnames agree."""
    if not a.latin or not b.latin:
        return 0.0, False
    a_tokens, b_tokens = a.latin.split(), b.latin.split()
    surname_a = {a.surname} if a.surname else set(a_tokens)
    surname_b = {b.surname} if b.surname else set(b_tokens)
    same_surname = bool(surname_a & surname_b)
    if a.title_only or b.title_only:
        # 张经理 says only the surname: never more than a surname agreement.
        return (60.0 if same_surname else 0.0), same_surname
    if a.full == b.full:
        return 100.0, True
    if a.given and b.given:
        # Both parsed as Chinese names: a shared surname is common, so the given name carries the weight.
        return (40.0 if same_surname else 0.0) + 0.6 * fuzz.ratio(a.given, b.given), same_surname
    return float(fuzz.token_sort_ratio(a.latin, b.latin)), same_surname


@dataclass
class Rule:
    """An administrator's rule: when every condition holds, it decides (e.g. company ≥ 85 and same surname → review)."""

    name: str
    decision: str
    company_at_least: float | None = None
    same_surname: bool | None = None
    same_phone: bool | None = None
    same_email: bool | None = None

    def holds(self, facts: dict[str, Any]) -> bool:
        """Whether the rule's conditions hold for these facts."""
        checks = [
            self.company_at_least is None or facts["company"] >= self.company_at_least,
            self.same_surname is None or facts["same_surname"] == self.same_surname,
            self.same_phone is None or facts["same_phone"] == self.same_phone,
            self.same_email is None or facts["same_email"] == self.same_email,
        ]
        return all(checks)


@dataclass
class MatchRules:
    """Weights, thresholds and rules an administrator sets; the defaults are what the service ships with."""

    weights: dict[str, float] = field(
        default_factory=lambda: {
            "company": 0.5,
            "phone": 0.2,
            "email": 0.15,
            "contact": 0.15,
            "domain": 0.15,
            "address": 0.15,
        }
    )
    auto_match: float = 90.0
    review: float = 75.0
    rules: list[Rule] = field(
        default_factory=lambda: [
            Rule("same phone and similar company", AUTO_MATCH, company_at_least=80, same_phone=True),
            Rule("company ≥ 85 and same surname", REVIEW, company_at_least=85, same_surname=True),
        ]
    )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MatchRules:
        """Parse the JSON form; unknown keys are refused."""
        rules = [Rule(**r) for r in data.get("rules", [])]
        defaults = cls()
        return cls(
            weights={**defaults.weights, **data.get("weights", {})},
            auto_match=float(data.get("auto_match", defaults.auto_match)),
            review=float(data.get("review", defaults.review)),
            rules=rules if "rules" in data else defaults.rules,
        )

    def problems(self) -> list[tuple[str, str]]:
        """(field, description) of everything wrong with the rules."""
        found = []
        if not 0 <= self.review <= self.auto_match <= 100:
            found.append(("review", "must satisfy 0 ≤ review ≤ auto_match ≤ 100"))
        if any(w < 0 for w in self.weights.values()) or sum(self.weights.values()) <= 0:
            found.append(("weights", "must be non-negative with a positive sum"))
        for i, rule in enumerate(self.rules):
            if rule.decision not in (AUTO_MATCH, REVIEW, NO_MATCH):
                found.append((f"rules[{i}].decision", "must be auto_match, review or no_match"))
        return found


@dataclass(frozen=True)
class Record:
    """What is known of one side of a pair; empty strings for what is not known."""

    company: str = ""
    credit_code: str = ""
    phone: str = ""
    email: str = ""
    contact: str = ""
    address: str = ""


@dataclass(frozen=True)
class FieldScore:
    """One field's comparison: 0-100, or None when a side has no value."""

    field: str
    score: float | None
    note: str = ""


@dataclass(frozen=True)
class MatchResult:
    """The total score, the decision, which rule decided it, and every field's score."""

    score: float
    decision: str
    rule: str
    fields: tuple[FieldScore, ...]

    def explanation(self) -> dict[str, Any]:
        """JSON-ready explanation."""
        return {
            "score": round(self.score, 1),
            "decision": self.decision,
            "rule": self.rule,
            "fields": [
                {"field": f.field, "score": None if f.score is None else round(f.score, 1), "note": f.note}
                for f in self.fields
            ],
        }


# Mailbox providers anyone signs up to: an address there tells the person, never the employer.
PERSONAL_MAIL_DOMAINS = frozenset(
    "qq.com foxmail.com 163.com 126.com yeah.net 139.com 189.cn 21cn.com sina.com sina.cn sohu.com tom.com "
    "aliyun.com 263.net gmail.com googlemail.com hotmail.com outlook.com live.com msn.com yahoo.com yahoo.com.cn "
    "icloud.com me.com mail.com proton.me protonmail.com gmx.com yandex.com".split()
)
# A person's name agrees when it is this similar: a shared surname or a homophone is another person as often.
NAME_AGREES = 90.0
ADDRESS_AGREES = 90.0


def company_domain(email: str) -> str:
    """The domain of a business e-mail address (the company's own), or "" for a personal mailbox or no address."""
    _, at, domain = email.strip().lower().rpartition("@")
    return domain if at and domain and domain not in PERSONAL_MAIL_DOMAINS else ""


def is_landline(phone: str) -> bool:
    """Whether an E.164 number is a fixed line (a company's switchboard), not a person's mobile."""
    try:
        number = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.FIXED_LINE


def score_pair(query: Record, candidate: Record, rules: MatchRules) -> MatchResult:
    """The account decision, the one every path takes (resolve, match, dedup jobs, benchmarks).

    A valid credit code on both sides decides alone. Otherwise the company's name is the account's evidence, for and
    against; what else agrees (the same phone or address, company domain, landline, the same person's name) adds to
    it, and what differs is shown but never counted against the account: another person at one company is still
    that company.
    """
    fields: list[FieldScore] = []
    q_code, c_code = normalize_credit_code(query.credit_code), normalize_credit_code(candidate.credit_code)
    if q_code and c_code and valid_credit_code(q_code) and valid_credit_code(c_code):
        same = q_code == c_code
        fields.append(FieldScore("credit_code", 100.0 if same else 0.0, "valid on both sides"))
        return MatchResult(
            100.0 if same else 0.0, AUTO_MATCH if same else NO_MATCH, "credit code decides", tuple(fields)
        )
    company, note = (None, "")
    if query.company and candidate.company:
        company, note = company_similarity(
            normalize_company_name(query.company), normalize_company_name(candidate.company)
        )
    fields.append(FieldScore("company", company, note))
    phone = None if not (query.phone and candidate.phone) else (100.0 if query.phone == candidate.phone else 0.0)
    fields.append(FieldScore("phone", phone, _phone_note(query.phone, phone)))
    email = None if not (query.email and candidate.email) else (100.0 if _same_email(query, candidate) else 0.0)
    fields.append(FieldScore("email", email, "another mailbox: not counted against" if email == 0.0 else ""))
    contact, same_surname = None, False
    if query.contact and candidate.contact:
        contact, same_surname = person_similarity(
            normalize_person_name(query.contact), normalize_person_name(candidate.contact)
        )
    fields.append(FieldScore("contact", contact, _contact_note(contact, same_surname)))
    domains = company_domain(query.email), company_domain(candidate.email)
    domain = None if not all(domains) or email == 100.0 else (100.0 if domains[0] == domains[1] else 0.0)
    fields.append(FieldScore("domain", domain, _DOMAIN_NOTES.get(domain, "")))
    address = None
    if query.address and candidate.address:
        address = float(fuzz.token_sort_ratio(fold(query.address), fold(candidate.address)))
    fields.append(FieldScore("address", address))
    # Evidence for the account: the company's name always (it can say "another company"); the rest only agreeing.
    agreeing = {f.field for f in fields if f.score is not None and f.score >= _AGREES.get(f.field, 100.0)}
    if "contact" in agreeing and company is None and not agreeing & {"phone", "email"}:
        # A name alone is no account: 张伟 works at many companies.
        agreeing.discard("contact")
    counted = [(f, rules.weights.get(f.field, 0.0)) for f in fields if f.field == "company" and f.score is not None]
    counted += [(f, rules.weights.get(f.field, 0.0)) for f in fields if f.field in agreeing and f.field != "company"]
    weight = sum(w for _, w in counted)
    total = sum(f.score * w for f, w in counted) / weight if weight else 0.0  # type: ignore[operator]
    facts = {
        "company": company or 0.0,
        "same_surname": same_surname,
        "same_phone": phone == 100.0,
        "same_email": email == 100.0,
    }
    return _decide(total, facts, rules, tuple(fields))


_AGREES = {"contact": NAME_AGREES, "address": ADDRESS_AGREES}
_DOMAIN_NOTES = {100.0: "company domain of a business e-mail", 0.0: "another domain: not counted against"}


def _same_email(a: Record, b: Record) -> bool:
    return a.email.strip().lower() == b.email.strip().lower()


def _phone_note(phone: str, score: float | None) -> str:
    if score is None:
        return ""
    kind = "company landline" if is_landline(phone) else "mobile"
    return kind if score == 100.0 else f"another {kind}: not counted against"


def _contact_note(score: float | None, same_surname: bool) -> str:
    if score is None:
        return ""
    if score >= NAME_AGREES:
        return "same person"
    return "another person: not counted against" + ("; same surname" if same_surname else "")


_STRENGTH = {NO_MATCH: 0, REVIEW: 1, AUTO_MATCH: 2}


def _decide(total: float, facts: dict[str, Any], rules: MatchRules, fields: tuple[FieldScore, ...]) -> MatchResult:
    """A no_match rule vetoes; otherwise the stronger of the thresholds' decision and the first rule that holds."""
    if total >= rules.auto_match:
        decision, reason = AUTO_MATCH, f"score ≥ auto_match {rules.auto_match:g}"
    elif total >= rules.review:
        decision, reason = REVIEW, f"score ≥ review {rules.review:g}"
    else:
        decision, reason = NO_MATCH, f"score < review {rules.review:g}"
    for rule in rules.rules:
        if rule.holds(facts) and (rule.decision == NO_MATCH or _STRENGTH[rule.decision] > _STRENGTH[decision]):
            decision, reason = rule.decision, rule.name
            break
    return MatchResult(total, decision, reason, fields)
