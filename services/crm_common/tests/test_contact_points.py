"""One normaliser of phones and e-mails: account and contact keys of one person agree, and normalising is idempotent."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_common import contact_points
from customer_master import contacts, domain
from lead.domain import normalize_phone as lead_phone
from lead.privacy import person

E164 = "+8613912345678"


@pytest.mark.parametrize(
    "raw",
    ["+86 139-1234-5678", "0086 139 1234 5678", "＋８６ １３９ １２３４ ５６７８", "+86(139)1234.5678", "００８６１３９１２３４５６７８"],
)
def test_account_contact_and_lead_phone_keys_agree(raw: str) -> None:
    assert domain.normalize_phone(raw) == E164
    assert contacts.normalize_phone(raw) == E164
    assert lead_phone(raw, "CN") == (E164, None)
    assert domain.validate_keys(domain.match_keys(phone=raw, email="", company="")) == []


def test_a_national_number_is_e164_for_contacts_and_refused_as_an_account_key() -> None:
    raw = "１３９１２３４５６７８"
    assert contacts.normalize_phone(raw) == E164
    violations = domain.validate_keys(domain.match_keys(phone=raw, email="", company=""))
    assert [v.field for v in violations] == ["phone"]


@pytest.mark.parametrize(
    "raw",
    ["Zhang.Li@Example.COM", "  ZHANG.LI@EXAMPLE.COM ", "ｚｈａｎｇ．ｌｉ＠ｅｘａｍｐｌｅ．ｃｏｍ", "ＺＨＡＮＧ.LI@example.com"],
)
def test_account_and_contact_email_keys_agree(raw: str) -> None:
    assert domain.normalize_email(raw) == "zhang.li@example.com"
    assert contacts.normalize_email(raw) == "zhang.li@example.com"
    assert contacts.lenient_email(raw) == "zhang.li@example.com"


def test_a_privacy_request_finds_the_person_by_any_form_of_their_identifiers() -> None:
    who = person(phone="００８６ １３９ １２３４ ５６７８", email="ＺＨＡＮＧ.LI@example.com", region="CN")
    assert (who.phone_e164, who.email) == (E164, "zhang.li@example.com")


def test_keys_stored_before_the_shared_module_are_unchanged() -> None:
    # Stored account keys were E.164 with separators dropped and lower-cased valid addresses: each maps to itself.
    assert domain.normalize_phone("+8657188888888") == "+8657188888888"
    assert domain.normalize_phone("+86 0571 8888 8888") == "+86057188888888"
    assert domain.normalize_email("not an email ") == "not an email"


def test_bad_input_names_the_rule() -> None:
    with pytest.raises(ValueError, match="possible"):
        contact_points.phone_e164("12")
    with pytest.raises(ValueError, match="not a phone number"):
        contact_points.phone_e164("abc")
    with pytest.raises(ValueError):
        contact_points.email_key("zhang@@example")
    assert contact_points.phone_e164("  ") is None
    assert contact_points.email_key("") is None


_PHONE_TEXT = st.text(alphabet="0123456789０１２３４５６７８９+＋ -()．", max_size=20)


def _assert_idempotent(raw: str, *normalisers: Callable[[str], str | None]) -> None:
    """Each normaliser maps its own output to itself; one refusing the input (ValueError) has nothing to check."""
    for normalise in normalisers:
        try:
            once = normalise(raw)
        except ValueError:
            continue
        assert once is None or normalise(once) == once


@given(_PHONE_TEXT)
def test_phone_normalising_is_idempotent(raw: str) -> None:
    _assert_idempotent(raw, contact_points.phone_key, contact_points.phone_e164)


@given(st.emails() | st.text(max_size=30))
def test_email_normalising_is_idempotent(raw: str) -> None:
    _assert_idempotent(raw, contact_points.lenient_email_key, contact_points.email_key, contact_points.email_address)
