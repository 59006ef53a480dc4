"""Validation, normalisation and rotation rules of the lead service."""

from __future__ import annotations

import pytest

from crm.lead.v1 import lead_pb2
from crm_common.errors import InvalidArgument
from lead.domain import normalize_phone, validate_lead


@pytest.mark.parametrize(
    "raw",
    [
        "13812345678",
        "138 1234 5678",
        "138-1234-5678",
        "+86 138 1234 5678",
        "0086 13812345678",
        "(+86) 138-1234-5678",
        "１３８１２３４５６７８",
    ],
)
def test_mainland_mobile_forms_normalise_to_e164(raw: str) -> None:
    assert normalize_phone(raw, "CN") == ("+8613812345678", None)


@pytest.mark.parametrize("raw", ["12345", "1381234567", "abc", "+86 100 0000 0000", "23812345678"])
def test_invalid_numbers_are_refused_with_a_reason(raw: str) -> None:
    e164, why = normalize_phone(raw, "CN")
    assert e164 == ""
    assert why


def test_foreign_numbers_keep_their_country() -> None:
    assert normalize_phone("+44 20 7946 0958", "CN")[0] == "+442079460958"


def test_missing_phone_and_email_names_both_fields() -> None:
    with pytest.raises(InvalidArgument) as err:
        validate_lead(lead_pb2.LeadInput(name="王芳"), region="CN")
    assert {v.field for v in err.value.violations} == {"phone", "email"}


def test_every_bad_field_is_named_at_once() -> None:
    data = lead_pb2.LeadInput(
        name="x" * 201, phone="12", email="not-an-email", source=lead_pb2.Source(channel="Web Form!")
    )
    with pytest.raises(InvalidArgument) as err:
        validate_lead(data, region="CN")
    assert {v.field for v in err.value.violations} == {"name", "phone", "email", "source.channel"}


def test_text_is_kept_verbatim_but_trimmed() -> None:
    lead = validate_lead(
        lead_pb2.LeadInput(name="  张伟 🚀 ", company="杭州某某科技(集团)", email=" Zhang.Wei@Example.COM "),
        region="CN",
    )
    assert lead.name == "张伟 🚀"
    assert lead.company == "杭州某某科技(集团)"
    assert lead.email == "Zhang.Wei@example.com"
    assert lead.source["channel"] == "api"
