"""Stages and the opening rule, without a server."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pipeline.domain import FIRST_STAGE, STAGE_NAMES, STAGES, opportunity_for_contact

AT = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)


def test_stages_in_pipeline_order() -> None:
    assert [s.name for s in STAGES] == ["qualification", "needs_analysis", "proposal", "negotiation", "won", "lost"]
    assert FIRST_STAGE.name == "qualification"
    assert {s.name for s in STAGES if s.closed} == {"won", "lost"}
    assert len(STAGE_NAMES) == len(STAGES)


def test_first_contact_opens_in_the_first_stage() -> None:
    to_open = opportunity_for_contact(
        lead_id="L1", rep_id="rep-7", customer_id="C1", first_contact=True, contacted_at=AT
    )
    assert to_open is not None
    assert (to_open.lead_id, to_open.owner_id, to_open.customer_id, to_open.stage, to_open.opened_at) == (
        "L1",
        "rep-7",
        "C1",
        "qualification",
        AT,
    )


def test_later_contacts_open_nothing() -> None:
    assert (
        opportunity_for_contact(lead_id="L1", rep_id="r", customer_id="", first_contact=False, contacted_at=AT) is None
    )


def test_unknown_customer_is_stored_as_none() -> None:
    to_open = opportunity_for_contact(lead_id="L1", rep_id="", customer_id="", first_contact=True, contacted_at=AT)
    assert to_open is not None and to_open.customer_id is None and to_open.owner_id is None


def test_first_contact_without_lead_is_refused() -> None:
    with pytest.raises(ValueError, match="lead_id"):
        opportunity_for_contact(lead_id="", rep_id="r", customer_id="", first_contact=True, contacted_at=AT)
