"""Customer matching rules: how phone, email and company name are normalised and which key wins."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from crm_common.contact_points import lenient_email_key, phone_key
from crm_common.errors import FieldViolation

# Keys in the order a resolve tries them: the first that matches an existing customer wins.
MATCH_ORDER = ("phone", "email", "company")

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")


def normalize_company(company: str) -> str | None:
    """Exact-match key of a company name: NFKC, case-folded, without whitespace, punctuation or brackets."""
    # NFKC folds full-width forms (ＡＢＣ, （）, ，) to their half-width equivalents before anything is removed.
    folded = unicodedata.normalize("NFKC", company).casefold()
    # Unicode categories: P* is every punctuation mark including all brackets (（）【】「」()[]), Z* separators,
    # C* controls; whitespace is removed explicitly too because tabs and newlines are controls, not separators.
    kept = "".join(ch for ch in folded if not ch.isspace() and unicodedata.category(ch)[0] not in "PZC")
    return kept or None


def normalize_email(email: str) -> str | None:
    """Exact-match key of an email address: the shared key, or the NFKC text lower-cased when not valid."""
    # An address we cannot validate is still a usable key for finding the same customer again.
    return lenient_email_key(email)


def normalize_phone(phone: str) -> str | None:
    """The E.164 number without separators (callers send E.164 already); None when empty."""
    return phone_key(phone)


@dataclass(frozen=True)
class MatchKeys:
    """The normalised keys a resolve looks customers up by."""

    phone: str | None
    email: str | None
    company: str | None

    def present(self) -> list[tuple[str, str]]:
        """(key name, value) of every key given, in match order."""
        values = {"phone": self.phone, "email": self.email, "company": self.company}
        return [(name, values[name]) for name in MATCH_ORDER if values[name]]

    def lock_names(self) -> list[str]:
        """Names of the advisory locks guarding these keys, sorted so that lockers never deadlock."""
        return sorted(f"customer_master:{name}:{value}" for name, value in self.present())


def match_keys(*, phone: str, email: str, company: str) -> MatchKeys:
    """The normalised keys of a resolve request."""
    return MatchKeys(phone=normalize_phone(phone), email=normalize_email(email), company=normalize_company(company))


def validate_keys(keys: MatchKeys) -> list[FieldViolation]:
    """Violations of a resolve request: at least one key, and a phone in E.164 form."""
    violations: list[FieldViolation] = []
    if not keys.present():
        violations.extend(
            FieldViolation(name, "at least one of phone, email or company is required") for name in MATCH_ORDER
        )
    if keys.phone is not None and not _E164.match(keys.phone):
        violations.append(FieldViolation("phone", "must be an E.164 number such as +8613800138000"))
    return violations
