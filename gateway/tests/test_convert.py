"""REST bodies become the lead service's messages field for field."""

from __future__ import annotations

from gateway import schemas
from gateway.convert import lead_input


def test_customer_tier_and_source_reach_the_lead_input() -> None:
    body = schemas.LeadIn(phone="13812345678", customer_tier="strategic", source={"channel": "wecom"})
    message = lead_input(body)
    assert message.customer_tier == "strategic"
    assert message.source.channel == "wecom"
    assert message.phone == "13812345678"
