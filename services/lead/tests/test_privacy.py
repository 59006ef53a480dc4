"""Exporting and anonymising one person in the lead service: everything of theirs, nothing of anyone else's."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from crm.lead.v1 import lead_pb2
from crm_common.identity import Role, acting_as, user_principal
from lead.app import DEFINITION
from lead.handlers import LeadServicer
from lead.privacy import erase_person, export_person, person
from lead.tables import contacts, leads, quarantine, touches

PHONE, EMAIL, NAME = "13812345678", "Zhang.Wei@Example.com", "张伟"


async def _capture(runtime, **fields: str) -> lead_pb2.CaptureLeadResponse:
    """Capture one web-form lead as an admin."""
    with acting_as(user_principal(Role.ADMIN)):
        request = lead_pb2.CaptureLeadRequest(
            lead=lead_pb2.LeadInput(source=lead_pb2.Source(channel="web_form"), **fields)
        )
        return await LeadServicer(runtime).CaptureLead(request, None)


def _dump(rows) -> str:
    """All stored text of some rows, to search for the person in."""
    return json.dumps([dict(row._mapping) for row in rows], default=str, ensure_ascii=False)


async def test_export_then_erase_covers_leads_and_held_submissions_only_of_that_person(service_runtime) -> None:
    async with service_runtime(DEFINITION, resolve_timeout_seconds=0.5) as runtime:
        by_phone = await _capture(runtime, name=NAME, phone=PHONE, company="星辰科技", notes=f"call {NAME} after 6")
        by_email = await _capture(runtime, name=NAME, email=EMAIL.upper(), company="星辰科技")
        repeat = await _capture(runtime, name=NAME, phone="138 1234 5678", notes=f"{NAME} again")
        held = await _capture(runtime, name="测试", phone="+86 138-1234-5678")
        other = await _capture(runtime, name="李娜", phone="13912345678", email="li.na@example.com")
        assert held.quarantined and not other.quarantined
        assert repeat.lead.id == by_phone.lead.id  # a repeat within the window: a touch of the first lead
        region = runtime.settings.default_region
        who = person(phone="+86 138 1234 5678", email=EMAIL, region=region)

        async with runtime.db.connect() as conn:
            exported = await export_person(conn, who=who, region=region)
        assert {row["id"] for row in exported["leads"]} == {by_phone.lead.id, by_email.lead.id}
        assert [row["id"] for row in exported["quarantine"]] == [held.quarantine.id]
        assert {row["lead_id"] for row in exported["timeline"]} == {by_phone.lead.id, by_email.lead.id}
        assert json.dumps(exported, ensure_ascii=False).count(NAME) >= 2
        assert [row["input"]["notes"] for row in exported["touches"]] == [f"{NAME} again"]

        async with runtime.db.transaction() as conn:
            erased = await erase_person(conn, who=who, region=region)
        assert (erased.leads, erased.quarantined) == (2, 1)

        async with runtime.db.connect() as conn:
            stored = _dump((await conn.execute(select(leads))).all())
            stored += _dump((await conn.execute(select(quarantine))).all())
            stored += _dump((await conn.execute(select(contacts))).all())
            stored += _dump((await conn.execute(select(touches))).all())
            kept = (await conn.execute(select(leads).where(leads.c.id == other.lead.id))).one()
            again = await export_person(conn, who=who, region=region)
        for trace in (NAME, "+8613812345678", "zhang.wei", "Zhang.Wei", "1234-5678"):
            assert trace not in stored
        assert "星辰科技" in stored  # the company is the account's, not the person's
        assert (kept.name, kept.phone_e164, kept.email) == ("李娜", "+8613912345678", "li.na@example.com")
        assert again == {"leads": [], "timeline": [], "contacts": [], "touches": [], "quarantine": []}


@pytest.mark.parametrize(
    ("phone", "email", "field"),
    [("", "", "phone or email"), ("12", "", "phone:"), ("", "not-an-address", "email:")],
)
def test_bad_identifiers_are_refused_naming_the_field(phone: str, email: str, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        person(phone=phone, email=email, region="CN")
