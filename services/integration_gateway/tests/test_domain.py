"""Webhook validation and the forgiving JSON-to-LeadInput mapping, without a server."""

from __future__ import annotations

from typing import Any

import pytest

from integration_gateway import domain


def mapped(payload: dict[str, Any], source: str = "site") -> dict[str, Any]:
    lead = domain.lead_input_from_payload(payload, source=source)
    fields = {f: getattr(lead, f) for f in domain.LEAD_FIELD_ALIASES if getattr(lead, f)}
    attribution = {f: getattr(lead.source, f) for f in domain.SOURCE_FIELD_ALIASES if getattr(lead.source, f)}
    return {**fields, "source": attribution}


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"name": "Li Na", "phone": "13800138000"}, {"name": "Li Na", "phone": "13800138000"}),
        ({"contact_name": "Li Na", "mobile": "138"}, {"name": "Li Na", "phone": "138"}),
        ({"Contact Name": "Li Na", "tel": "+86 10 1234"}, {"name": "Li Na", "phone": "+86 10 1234"}),
        ({"contactName": "Li Na", "Phone-Number": "139"}, {"name": "Li Na", "phone": "139"}),
        ({"姓名": "王伟", "手机": "13900001111", "邮箱": "w@x.cn", "公司": "某某科技"},
         {"name": "王伟", "phone": "13900001111", "email": "w@x.cn", "company": "某某科技"}),
        ({"company_name": "Acme", "province": "浙江", "city": "杭州", "industry": "制造"},
         {"company": "Acme", "province": "浙江", "city": "杭州", "industry": "制造"}),
        ({"product": "CRM", "message": "call me"}, {"product_interest": "CRM", "notes": "call me"}),
        ({"product_interest": "ERP", "remark": "after 6pm"}, {"product_interest": "ERP", "notes": "after 6pm"}),
        ({"name": "  padded  ", "email": "", "mail": "b@y.com"}, {"name": "padded", "email": "b@y.com"}),
        ({"phone": 13800138000.0}, {"phone": "13800138000"}),
        ({"name": None, "phone": True, "city": {"x": 1}}, {}),
        ({"product": ["CRM", "ERP"]}, {"product_interest": "CRM, ERP"}),
        ({"unknown": "ignored", "name": "A"}, {"name": "A"}),
    ],
)
def test_lead_fields_map_from_their_aliases(payload: dict[str, Any], expected: dict[str, str]) -> None:
    result = mapped(payload)
    result.pop("source")
    assert result == expected


def test_wrapped_fields_and_name_value_lists_are_lifted_and_the_top_level_wins() -> None:
    payload = {
        "data": {"name": "wrapped", "phone": "111", "company": "Inner Co"},
        "fields": [{"name": "city", "value": "Wuhan"}, {"label": "行业", "value": "零售"}, {"name": "no value"}],
        "name": "top",
    }
    assert mapped(payload) == {
        "name": "top", "phone": "111", "company": "Inner Co", "city": "Wuhan", "industry": "零售",
        "source": {"channel": "api", "utm_source": "site"},
    }


def test_channel_defaults_to_api_and_utm_source_to_the_webhook_source() -> None:
    assert mapped({"name": "A"}, source="baidu-ads")["source"] == {"channel": "api", "utm_source": "baidu-ads"}


def test_nested_source_object_sets_attribution() -> None:
    payload = {"name": "A", "source": {"channel": "web_form", "source": "wechat", "medium": "cpc", "campaign": "spring", "campaign_id": "c-1"}}
    assert mapped(payload)["source"] == {
        "channel": "web_form", "utm_source": "wechat", "utm_medium": "cpc", "utm_campaign": "spring", "campaign_id": "c-1"
    }


def test_top_level_utm_keys_and_string_source() -> None:
    payload = {"utm_source": "google", "utm_medium": "cpc", "utm_campaign": "q3", "referer": "https://x", "channel": "landing"}
    assert mapped(payload)["source"] == {
        "channel": "landing", "utm_source": "google", "utm_medium": "cpc", "utm_campaign": "q3", "referrer": "https://x"
    }
    assert mapped({"source": "douyin"})["source"] == {"channel": "api", "utm_source": "douyin"}


def test_nested_source_wins_over_top_level_utm_keys() -> None:
    payload = {"source": {"utm_source": "nested"}, "utm_source": "top", "utm": {"medium": "email"}}
    assert mapped(payload)["source"] == {"channel": "api", "utm_source": "nested", "utm_medium": "email"}


@pytest.mark.parametrize("source", ["site", "baidu-ads", "a", "x_1", "0abc", "a" * 64])
def test_valid_sources(source: str) -> None:
    assert domain.validate_request(source=source, idempotency_key="", has_payload=True) == []


@pytest.mark.parametrize("source", ["", "Site", "-site", "_a", "has space", "a/b", "a" * 65, "汉字", "site\n"])
def test_invalid_sources_name_the_source_field(source: str) -> None:
    violations = domain.validate_request(source=source, idempotency_key="", has_payload=True)
    assert [v.field for v in violations] == ["source"]


def test_every_bad_field_is_reported_together() -> None:
    violations = domain.validate_request(source="Bad", idempotency_key="k" * 201, has_payload=False)
    assert [v.field for v in violations] == ["source", "idempotency_key", "payload"]


def test_capture_key_uses_the_callers_key_else_the_receipt_id() -> None:
    assert domain.capture_key(source="site", idempotency_key="k1", receipt_id="r") == "webhook:site:k1"
    assert domain.capture_key(source="site", idempotency_key=None, receipt_id="r") == "webhook:site:r"
