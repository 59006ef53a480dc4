"""Lead rules as plain functions: validation and normalisation of what a form sends, and rule matching."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import phonenumbers
from phonenumbers import PhoneNumberType, geocoder

from crm.lead.v1 import lead_pb2
from crm_common.contact_points import email_address, parse_phone
from crm_common.errors import FieldViolation, InvalidArgument, nul_violations

LIMITS = {
    "name": 200,
    "company": 200,
    "province": 100,
    "city": 100,
    "industry": 100,
    "product_interest": 200,
    "notes": 4000,
}
SOURCE_LIMITS = {
    "channel": 50,
    "utm_source": 200,
    "utm_medium": 200,
    "utm_campaign": 200,
    "campaign_id": 200,
    "referrer": 2000,
}
CHANNEL_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,49}$")
DEFAULT_CHANNEL = "api"
# Fields a rule condition may test (the keys of CleanLead.routing_fields); routing validates rule sets against them.
CONDITION_FIELDS = (
    "province",
    "region",
    "city",
    "industry",
    "product_interest",
    "channel",
    "customer_id",
    "customer_tier",
    "has_owner",
)


@dataclass
class CleanLead:
    """A validated, normalised lead as it is stored."""

    name: str = ""
    phone_e164: str = ""
    email: str = ""
    company: str = ""
    province: str = ""
    city: str = ""
    industry: str = ""
    product_interest: str = ""
    notes: str = ""
    source: dict[str, str] = field(default_factory=dict)
    customer_tier: str = ""
    location_inferred: bool = False

    def routing_fields(self, customer_id: str | None, *, has_owner: bool = False) -> dict[str, str]:
        """The values routing rules test."""
        return {
            "province": self.province,
            "region": region_of(self.province),
            "city": self.city,
            "industry": self.industry,
            "product_interest": self.product_interest,
            "channel": self.source.get("channel", DEFAULT_CHANNEL),
            "customer_id": customer_id or "",
            "customer_tier": self.customer_tier,
            "has_owner": "true" if has_owner else "false",
        }


def normalize_phone(raw: str, region: str) -> tuple[str, str | None]:
    """Return (E.164, None) or ("", why it is not a valid number)."""
    try:
        number = parse_phone(raw, region=region)
    except ValueError as err:
        return "", str(err)
    if not phonenumbers.is_valid_number(number):
        return "", "not a valid phone number"
    if number.country_code == 86:
        kind = phonenumbers.number_type(number)
        digits = phonenumbers.national_significant_number(number)
        if digits.startswith("1") and kind not in (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE):
            return "", "not a valid mainland China mobile number"
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), None


def _clean_text(value: str) -> str:
    """Trim but keep the text verbatim (Unicode, emoji); drop control characters except newlines and tabs."""
    return "".join(ch for ch in value if ch in "\n\t" or unicodedata.category(ch) != "Cc").strip()


def validate_lead(data: lead_pb2.LeadInput, *, region: str) -> CleanLead:
    """Validate and normalise a submitted lead, naming every bad field at once."""
    # A NUL is refused, not dropped: the submission itself is kept with a repeat or a quarantine, and no table stores it.
    violations = nul_violations(data)
    lead = CleanLead()
    for name, limit in LIMITS.items():
        value = _clean_text(getattr(data, name))
        if len(value) > limit:
            violations.append(FieldViolation(name, f"must be at most {limit} characters"))
        setattr(lead, name, value)
    for name, limit in SOURCE_LIMITS.items():
        value = _clean_text(getattr(data.source, name))
        if len(value) > limit:
            violations.append(FieldViolation(f"source.{name}", f"must be at most {limit} characters"))
        lead.source[name] = value
    channel = lead.source["channel"] or DEFAULT_CHANNEL
    if not CHANNEL_PATTERN.match(channel):
        violations.append(FieldViolation("source.channel", "must be a lower-case identifier such as web_form or wecom"))
    lead.source["channel"] = channel
    lead.customer_tier = _clean_text(data.customer_tier)[:50]

    phone = data.phone.strip()
    email = data.email.strip()
    if not phone and not email:
        violations.append(FieldViolation("phone", "phone or email is required"))
        violations.append(FieldViolation("email", "phone or email is required"))
    if phone:
        lead.phone_e164, why = normalize_phone(phone, region)
        if why:
            violations.append(FieldViolation("phone", why))
    if email:
        try:
            lead.email = email_address(email) or ""
        except ValueError as err:
            violations.append(FieldViolation("email", str(err)))
    if violations:
        raise InvalidArgument(violations)
    if lead.phone_e164 and not (lead.province and lead.city):
        infer_location(lead)
    return lead


# Provincial-level divisions as the geocoder names them (it writes 新疆乌鲁木齐市, 江苏省连云港市, 北京市).
PROVINCES = (
    "北京",
    "天津",
    "上海",
    "重庆",
    "河北",
    "山西",
    "辽宁",
    "吉林",
    "黑龙江",
    "江苏",
    "浙江",
    "安徽",
    "福建",
    "江西",
    "山东",
    "河南",
    "湖北",
    "湖南",
    "广东",
    "海南",
    "四川",
    "贵州",
    "云南",
    "陕西",
    "甘肃",
    "青海",
    "台湾",
    "内蒙古",
    "广西",
    "西藏",
    "宁夏",
    "新疆",
    "香港",
    "澳门",
)
_DIVISION_SUFFIX = re.compile(r"^(省|市|壮族自治区|回族自治区|维吾尔自治区|自治区|特别行政区)")


# The seven geographic regions (七大地理分区) sales organisations in China commonly split territories by; a
# deployment may replace them (CRM_REGIONS) with its own sales regions, each a list of provinces.
DEFAULT_REGIONS: dict[str, tuple[str, ...]] = {
    "华东": ("上海", "江苏", "浙江", "安徽", "福建", "江西", "山东", "台湾"),
    "华南": ("广东", "广西", "海南", "香港", "澳门"),
    "华中": ("河南", "湖北", "湖南"),
    "华北": ("北京", "天津", "河北", "山西", "内蒙古"),
    "西南": ("重庆", "四川", "贵州", "云南", "西藏"),
    "西北": ("陕西", "甘肃", "青海", "宁夏", "新疆"),
    "东北": ("辽宁", "吉林", "黑龙江"),
}
_province_region: dict[str, str] = {p: r for r, ps in DEFAULT_REGIONS.items() for p in ps}


def canonical_province(value: str) -> str:
    """A province as the geocoder and PROVINCES name it ("浙江省" -> "浙江"); unknown values unchanged."""
    return next((p for p in PROVINCES if value.startswith(p)), value)


def region_problems(regions: Mapping[str, Sequence[str]]) -> list[str]:
    """Why a region map cannot be used: unknown provinces, a province in two regions, empty regions."""
    problems: list[str] = []
    seen: dict[str, str] = {}
    for region, provinces in regions.items():
        if not region.strip():
            problems.append("a region needs a name")
        if not provinces:
            problems.append(f"region {region!r} lists no provinces")
        for value in provinces:
            province = canonical_province(value)
            if province not in PROVINCES:
                problems.append(f"region {region!r}: {value!r} is not a province")
            elif seen.get(province) == region:
                problems.append(f"region {region!r} lists {province!r} twice")
            elif province in seen:
                problems.append(f"province {province!r} is in both {seen[province]!r} and {region!r}")
            else:
                seen[province] = region
    return problems


def set_regions(regions: Mapping[str, Sequence[str]]) -> None:
    """Install the region map routing uses (validated; the process keeps one)."""
    problems = region_problems(regions)
    if problems:
        raise ValueError("; ".join(problems))
    _province_region.clear()
    _province_region.update({canonical_province(p): r for r, ps in regions.items() for p in ps})


def region_names() -> frozenset[str]:
    return frozenset(_province_region.values())


def provinces_of(region: str) -> frozenset[str]:
    return frozenset(p for p, r in _province_region.items() if r == region)


def region_of(province: str) -> str:
    """The region a lead's province belongs to ("" when the province is unknown or in no region)."""
    return _province_region.get(canonical_province(province), "") if province else ""


def split_place(place: str) -> tuple[str, str]:
    """(province, city) of a geocoder description; a municipality is its own city; ("", "") when unknown."""
    province = next((p for p in PROVINCES if place.startswith(p)), "")
    if not province:
        return "", ""
    rest = _DIVISION_SUFFIX.sub("", place[len(province) :])
    city = re.sub(r"市$", "", rest) or province
    return province, city


def infer_location(lead: CleanLead) -> None:
    """Fill province and city from a Chinese number's geocoding, marking the lead's location as inferred."""
    number = phonenumbers.parse(lead.phone_e164)
    if number.country_code != 86:
        return
    province, city = split_place(geocoder.description_for_number(number, "zh") or "")
    if not province:
        return
    inferred = False
    if not lead.province:
        lead.province, inferred = province, True
    if not lead.city and lead.province == province:
        lead.city, inferred = city, True
    lead.location_inferred = inferred


# What makes a lead worth more: its channel (weight, configurable), how complete it is, what it wants.
COMPLETENESS_FIELDS = ("name", "phone_e164", "email", "company", "province", "city", "industry")


def score_lead(lead: CleanLead, channel_weights: Mapping[str, float], default_weight: float) -> dict[str, float]:
    """The parts of a lead's score (their sum, rounded, is the score; at most about 100)."""
    weight = channel_weights.get(lead.source.get("channel", DEFAULT_CHANNEL), default_weight)
    filled = sum(1 for name in COMPLETENESS_FIELDS if getattr(lead, name))
    completeness = 40.0 * filled / len(COMPLETENESS_FIELDS)
    if lead.location_inferred:
        completeness -= 2.0  # an inferred place is a guess, not something the prospect told us
    return {
        "channel": round(20.0 * weight, 2),
        "completeness": round(completeness, 2),
        "product_interest": 25.0 if lead.product_interest else 0.0,
    }


def quarantine_reasons(
    lead: CleanLead, *, blocked_email_domains: Sequence[str], blocked_phones: Sequence[str]
) -> list[str]:
    """Business rules a well-formed submission can still fail (it is then kept, never dropped)."""
    reasons = []
    domain = lead.email.rsplit("@", 1)[-1].lower() if lead.email else ""
    if domain and domain in {d.lower() for d in blocked_email_domains}:
        reasons.append(f"email domain {domain} is on the block list (disposable or competitor)")
    if lead.phone_e164 and lead.phone_e164 in blocked_phones:
        reasons.append("phone number is on the block list")
    lowered = lead.name.lower()
    if lowered in {"test", "testing", "asdf", "测试", "测试测试"} or lowered.startswith("test "):
        reasons.append("looks like a test submission (name)")
    return reasons


def mask_phone(e164: str) -> str:
    """+8613812345678 -> +86138****5678."""
    if len(e164) < 8:
        return "*" * len(e164)
    return e164[:-8] + "****" + e164[-4:]


def mask_email(email: str) -> str:
    """zhang.wei@example.com -> z***@example.com."""
    if "@" not in email:
        return ""
    local, domain = email.split("@", 1)
    return f"{local[:1]}***@{domain}"
