"""Webhook rules without I/O: which sources are valid, and how a free-form JSON form becomes a LeadInput."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from google.protobuf.struct_pb2 import ListValue, Struct, Value

from crm.lead.v1 import lead_pb2
from crm_common.errors import FieldViolation, json_violations

SOURCE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
MAX_IDEMPOTENCY_KEY_LENGTH = 200
KEY_REUSED = "was already used by this source with a different payload; send a new key for a new webhook"
DEFAULT_CHANNEL = "api"

# Aliases are compared after normalising: lower case, without spaces, "_", "-" or ".".
LEAD_FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "name": ("name", "contactname", "contact", "fullname", "customername", "姓名", "名字", "联系人", "客户姓名"),
    "phone": (
        "phone", "mobile", "tel", "telephone", "phonenumber", "mobilephone", "cellphone",
        "手机", "手机号", "手机号码", "电话", "联系电话",
    ),
    "email": ("email", "mail", "emailaddress", "邮箱", "电子邮箱", "电子邮件"),
    "company": ("company", "companyname", "organization", "organisation", "公司", "公司名称", "企业", "企业名称", "单位"),
    "province": ("province", "state", "省", "省份"),
    "city": ("city", "城市", "市"),
    "industry": ("industry", "行业", "所属行业"),
    "product_interest": ("productinterest", "product", "interest", "产品", "意向产品"),
    "notes": ("notes", "note", "message", "remark", "remarks", "comment", "comments", "备注", "留言"),
}
SOURCE_FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "channel": ("channel", "渠道"),
    "utm_source": ("utmsource",),
    "utm_medium": ("utmmedium",),
    "utm_campaign": ("utmcampaign",),
    "campaign_id": ("campaignid",),
    "referrer": ("referrer", "referer"),
}
# Inside a nested `source` or `utm` object the utm_ prefix is usually dropped.
NESTED_SOURCE_ALIASES: dict[str, tuple[str, ...]] = {
    **SOURCE_FIELD_ALIASES,
    "utm_source": ("utmsource", "source"),
    "utm_medium": ("utmmedium", "medium"),
    "utm_campaign": ("utmcampaign", "campaign"),
}
# Form tools often wrap the fields; the wrapped fields count as if at the top (the top wins on a clash).
WRAPPERS = ("data", "lead", "form", "fields", "contact")


def validate_request(*, source: str, idempotency_key: str, has_payload: bool) -> list[FieldViolation]:
    """Every problem with a webhook request that makes it unacceptable before it is stored."""
    violations: list[FieldViolation] = []
    if not SOURCE_PATTERN.fullmatch(source):
        violations.append(
            FieldViolation("source", "must be a lowercase slug: a-z, 0-9, '_' or '-', starting alphanumeric, at most 64")
        )
    if len(idempotency_key) > MAX_IDEMPOTENCY_KEY_LENGTH:
        violations.append(FieldViolation("idempotency_key", f"at most {MAX_IDEMPOTENCY_KEY_LENGTH} characters"))
    if not has_payload:
        violations.append(FieldViolation("payload", "required"))
    return violations


def payload_violations(payload: Struct | Mapping[str, Any]) -> list[FieldViolation]:
    """What in a webhook's JSON no table could store (NUL, NaN, Infinity) or is nested past the bound, by path."""
    return json_violations(_plain(payload) if isinstance(payload, Struct) else dict(payload), "payload")


def _plain(value: Struct | ListValue | Value) -> Any:
    """A Struct as Python values, NaN included (json_format refuses to convert a NaN, with a ValueError)."""
    if isinstance(value, Struct):
        return {key: _plain(item) for key, item in value.fields.items()}
    if isinstance(value, ListValue):
        return [_plain(item) for item in value.values]
    kind = value.WhichOneof("kind")
    if kind in ("struct_value", "list_value"):
        return _plain(getattr(value, kind))
    return None if kind in (None, "null_value") else getattr(value, kind)


def capture_key(*, source: str, idempotency_key: str | None, receipt_id: str) -> str:
    """The key the lead service dedupes on: the caller's key, else the receipt's own id."""
    return f"webhook:{source}:{idempotency_key or receipt_id}"


def _norm(key: str) -> str:
    return re.sub(r"[\s_\-.]", "", key).lower()


def _text(value: Any) -> str:
    """A JSON value as a field's text; objects, booleans and nulls say nothing a lead field can use."""
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # Struct carries numbers as doubles; a phone 13800138000 must not become 1.38e10.
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, list):
        return ", ".join(t for t in (_text(v) for v in value if not isinstance(v, dict | list)) if t)
    return ""


def _flatten(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Normalised keys of the payload, with wrapper objects and name/value field lists lifted to the top."""
    flat: dict[str, Any] = {}
    for wrapper in WRAPPERS:
        inner = payload.get(wrapper)
        if isinstance(inner, Mapping):
            flat.update({_norm(k): v for k, v in _flatten(inner).items()})
        elif isinstance(inner, list):
            for item in inner:
                if isinstance(item, Mapping):
                    label = item.get("name") or item.get("key") or item.get("label")
                    if isinstance(label, str) and "value" in item:
                        flat[_norm(label)] = item["value"]
    flat.update({_norm(k): v for k, v in payload.items() if k not in WRAPPERS or not isinstance(v, Mapping | list)})
    return flat


def _pick(flat: Mapping[str, Any], aliases: Iterable[str]) -> str:
    """The first non-empty value among the aliases, in their order."""
    for alias in aliases:
        text = _text(flat.get(alias))
        if text:
            return text
    return ""


def lead_input_from_payload(payload: Mapping[str, Any], *, source: str) -> lead_pb2.LeadInput:
    """Map a webhook's JSON form to a LeadInput; unknown keys are ignored (the receipt keeps the payload)."""
    flat = _flatten(payload)
    fields = {name: _pick(flat, aliases) for name, aliases in LEAD_FIELD_ALIASES.items()}

    nested: dict[str, Any] = {}
    for key in ("source", "utm"):
        value = flat.get(key)
        if isinstance(value, Mapping):
            nested.update({_norm(k): v for k, v in value.items() if _norm(k) not in nested})
    attribution = {
        name: _pick(nested, NESTED_SOURCE_ALIASES[name]) or _pick(flat, aliases)
        for name, aliases in SOURCE_FIELD_ALIASES.items()
    }
    if isinstance(flat.get("source"), str) and not attribution["utm_source"]:
        attribution["utm_source"] = _text(flat["source"])  # "source": "baidu" names where the lead came from
    attribution["channel"] = attribution["channel"] or DEFAULT_CHANNEL
    attribution["utm_source"] = attribution["utm_source"] or source
    return lead_pb2.LeadInput(**fields, source=lead_pb2.Source(**attribution))


def violations_text(violations: Iterable[FieldViolation]) -> str:
    """Field violations as one readable line for the receipt."""
    return "; ".join(f"{v.field}: {v.description}" for v in violations)
