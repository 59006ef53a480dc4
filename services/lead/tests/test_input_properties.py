"""Property tests of lead capture's input validation: any LeadInput is a clean lead or named violations, never a crash."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm.lead.v1 import lead_pb2
from crm_common.errors import InvalidArgument, nul_violations
from lead.domain import LIMITS, SOURCE_LIMITS, validate_lead

LEAD_TEXT = (*LIMITS, "phone", "email", "customer_tier")
# Any text protobuf can carry (valid UTF-8: no lone surrogates), NULs and other controls included, some of it long.
text = st.one_of(
    st.text(st.characters(codec="utf-8"), max_size=40),
    st.text(st.characters(codec="utf-8"), min_size=190, max_size=4100),
    st.sampled_from(["13812345678", "+86 138 1234 5678", "a@example.com", "web_form", "\x00", "１３８１２３４５６７８"]),
)
lead_inputs = st.builds(
    lead_pb2.LeadInput,
    **{name: text for name in LEAD_TEXT},
    source=st.builds(lead_pb2.Source, **{name: text for name in SOURCE_LIMITS}),
)
SETTINGS = settings(max_examples=200, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(lead_inputs)
def test_any_input_is_a_clean_lead_or_named_violations(data: lead_pb2.LeadInput) -> None:
    try:
        lead = validate_lead(data, region="CN")
    except InvalidArgument as err:
        known = {*LEAD_TEXT, *(f"source.{name}" for name in SOURCE_LIMITS)}
        assert err.violations and {v.field for v in err.violations} <= known
        assert all(v.description for v in err.violations)
        # A NUL anywhere is named, never silently dropped from what a repeat or a quarantine keeps.
        assert {v.field for v in nul_violations(data)} <= {v.field for v in err.violations}
        return
    assert not nul_violations(data)
    for name, limit in LIMITS.items():
        assert len(getattr(lead, name)) <= limit
    for name, limit in SOURCE_LIMITS.items():
        assert len(lead.source[name]) <= limit
    assert lead.phone_e164 or lead.email
    stored = [lead.name, lead.company, lead.notes, lead.phone_e164, lead.email, *lead.source.values()]
    assert not any("\x00" in value for value in stored)


@SETTINGS
@given(st.sampled_from(LEAD_TEXT), st.text(st.characters(codec="utf-8"), max_size=20), st.text(st.characters(codec="utf-8"), max_size=20))
def test_a_nul_in_any_field_is_named(field: str, before: str, after: str) -> None:
    data = lead_pb2.LeadInput(phone="13812345678")
    setattr(data, field, f"{before}\x00{after}")
    try:
        validate_lead(data, region="CN")
    except InvalidArgument as err:
        assert field in {v.field for v in err.violations}
    else:
        raise AssertionError(f"a NUL in {field} was accepted")


def test_a_nul_in_a_source_field_is_named() -> None:
    data = lead_pb2.LeadInput(phone="13812345678", source=lead_pb2.Source(channel="web\x00form", referrer="x\x00"))
    try:
        validate_lead(data, region="CN")
    except InvalidArgument as err:
        assert {"source.channel", "source.referrer"} <= {v.field for v in err.violations}
    else:
        raise AssertionError("a NUL in source was accepted")
