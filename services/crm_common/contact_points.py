"""Phone and e-mail normalisation shared by lead and customer master, so one person's keys agree everywhere."""

from __future__ import annotations

import re
import unicodedata

import phonenumbers
from email_validator import EmailNotValidError, validate_email

# The region a number without a country code is read in; every service defaults to mainland China.
DEFAULT_REGION = "CN"
_PHONE_SEPARATORS = re.compile(r"[\s\-().]")


def _fold(raw: str) -> str:
    """NFKC and trimmed: a Chinese input method in full-width mode types １３９ for 139 and ｚｈａｎｇ＠ for zhang@."""
    return unicodedata.normalize("NFKC", raw).strip()


def parse_phone(raw: str, *, region: str = DEFAULT_REGION) -> phonenumbers.PhoneNumber:
    """The parsed number of any common form (１３９…, +86 139-…, 0086…); ValueError naming why not."""
    text = _fold(raw)
    if text.startswith("00"):
        # The international call prefix 00 written before the country code, as on Chinese business cards.
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"not a phone number ({exc._msg})") from None
    if not phonenumbers.is_possible_number(number):
        raise ValueError("not a possible phone number (wrong length for its country)")
    return number


def phone_e164(raw: str, *, region: str = DEFAULT_REGION) -> str | None:
    """E.164 of a phone number in any common form; None when empty, ValueError when not a possible number."""
    if not _fold(raw):
        return None
    return phonenumbers.format_number(parse_phone(raw, region=region), phonenumbers.PhoneNumberFormat.E164)


def phone_key(raw: str) -> str | None:
    """Exact-match key of a number sent as E.164: NFKC, 00 read as +, separators dropped; None when empty.

    The key is not re-parsed, so a national number stays visibly not E.164 for the caller to refuse and keys
    stored before NFKC was applied (plain ASCII E.164 without separators) are unchanged.
    """
    compact = _PHONE_SEPARATORS.sub("", _fold(raw))
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    return compact or None


def email_address(raw: str) -> str | None:
    """email-validator's normalised address of NFKC input (local part's case kept); None when empty, else ValueError."""
    folded = _fold(raw)
    if not folded:
        return None
    try:
        return validate_email(folded, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError(str(exc)) from None


def email_key(raw: str) -> str | None:
    """Exact-match key of an e-mail address: the normalised address lower-cased; None when empty, else ValueError."""
    address = email_address(raw)
    # Mailboxes are case-insensitive in practice, so Zhang@ and zhang@ are one person.
    return address.lower() if address else None


def lenient_email_key(raw: str) -> str | None:
    """email_key, or the NFKC text lower-cased when it is not a valid address (still a key to find it again by)."""
    try:
        return email_key(raw)
    except ValueError:
        return _fold(raw).lower() or None
