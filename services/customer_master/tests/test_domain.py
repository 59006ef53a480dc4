"""Normalisation and validation rules, without a server."""

from __future__ import annotations

import pytest

from customer_master.domain import (
    MatchKeys,
    match_keys,
    normalize_company,
    normalize_email,
    normalize_phone,
    validate_keys,
)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("ＡＢＣ Co., Ltd.", "abc co ltd"),
        ("杭州某某科技（有限公司）", "杭州某某科技有限公司"),
        ("杭州某某科技(有限公司)", "杭州 某某 科技 有限公司"),
        ("【深圳】某某贸易有限公司", "深圳某某贸易有限公司"),
        ("「北京」某某・网络", "北京某某网络"),
        ("Ｓｔａｒ－Ｔｅｃｈ　Ｉｎｃ．", "star tech inc"),
        ("ACME\tGmbH\n", "acme gmbh"),
        ("Müller & Söhne", "MÜLLER & SÖHNE"),
    ],
)
def test_company_names_that_are_one_company_normalise_equal(a: str, b: str) -> None:
    assert normalize_company(a) == normalize_company(b)
    assert normalize_company(a)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("杭州某某科技有限公司", "上海某某科技有限公司"),
        ("ABC Co., Ltd.", "ABD Co., Ltd."),
        ("abc", "abc1"),
    ],
)
def test_different_companies_stay_different(a: str, b: str) -> None:
    assert normalize_company(a) != normalize_company(b)


def test_company_of_only_punctuation_is_no_key() -> None:
    assert normalize_company("  （）・, . ") is None
    assert normalize_company("") is None


def test_company_key_exact_value() -> None:
    assert normalize_company("ＡＢＣ Co., Ltd.") == "abccoltd"


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("  Foo.Bar@Example.COM ", "foo.bar@example.com"),
        ("a@b.cn", "a@b.cn"),
        ("not an email ", "not an email"),
        ("", None),
        ("   ", None),
    ],
)
def test_email_key(raw: str, key: str | None) -> None:
    assert normalize_email(raw) == key


def test_phone_key_drops_separators() -> None:
    assert normalize_phone("+86 138-0013-8000") == "+8613800138000"
    assert normalize_phone("") is None


def test_keys_come_in_match_order() -> None:
    keys = match_keys(phone="+8613800138000", email="A@B.cn", company="ＡＢＣ")
    assert keys.present() == [("phone", "+8613800138000"), ("email", "a@b.cn"), ("company", "abc")]
    assert keys.lock_names() == sorted(keys.lock_names())
    assert len(keys.lock_names()) == 3


def test_a_request_without_keys_names_every_key_field() -> None:
    violations = validate_keys(MatchKeys(phone=None, email=None, company=None))
    assert {v.field for v in violations} == {"phone", "email", "company"}


def test_a_phone_not_in_e164_is_refused() -> None:
    violations = validate_keys(match_keys(phone="13800138000", email="", company=""))
    assert [v.field for v in violations] == ["phone"]


def test_a_valid_request_has_no_violations() -> None:
    assert validate_keys(match_keys(phone="", email="x@y.cn", company="")) == []
