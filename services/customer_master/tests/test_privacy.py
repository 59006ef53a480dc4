"""Exporting and anonymising one person in the customer master: customer, contacts, source records and intake."""

from __future__ import annotations

import json
import random
import uuid

import pytest
from sqlalchemy import select

from crm_common.service import Runtime
from customer_master.contact_intake import process_intake
from customer_master.privacy import erase_person, export_person, person
from customer_master.resolution import ResolveRequest, resolve_customer
from customer_master.tables import (
    contact_intake,
    contact_keys,
    contact_sources,
    contacts,
    customer_changes,
    customer_sources,
    customers,
)

TABLES = (customers, customer_sources, customer_changes, contacts, contact_sources, contact_keys, contact_intake)


async def _stored(runtime: Runtime) -> str:
    """Every row of every table holding people, as one text to search in."""
    async with runtime.db.connect() as conn:
        rows = [dict(row._mapping) for table in TABLES for row in (await conn.execute(select(table))).all()]
    return json.dumps(rows, default=str, ensure_ascii=False)


async def test_export_then_erase_leaves_nothing_of_the_person_and_keeps_the_others(runtime: Runtime) -> None:
    phone = f"+86138{random.randrange(10**8):08d}"
    mailbox = f"zw{uuid.uuid4().hex[:8]}"
    email = f"{mailbox}@example.com"
    company = f"杭州{uuid.uuid4().hex[:6]}科技有限公司"
    other_phone = f"+86139{random.randrange(10**8):08d}"
    first = await resolve_customer(
        runtime, ResolveRequest(name="欧阳伟", company=company, phone=phone, source_ref="lead:p-1")
    )
    await resolve_customer(
        runtime, ResolveRequest(name="欧阳伟", company=company, email=email.upper(), phone=phone, source_ref="lead:p-2")
    )
    await resolve_customer(
        runtime, ResolveRequest(name="司马强", company=company, phone=other_phone, source_ref="lead:p-3")
    )
    # One person stays queued, not yet linked: intake rows are theirs too.
    await process_intake(runtime.db)
    await resolve_customer(runtime, ResolveRequest(name="欧阳伟", company=company, email=email, source_ref="form:p-4"))

    who = person(phone=phone[3:], email=f" {email.upper()} ")
    async with runtime.db.connect() as conn:
        exported = await export_person(conn, who=who)
    text = json.dumps(exported, ensure_ascii=False)
    assert str(first.customer.id) in text and "欧阳伟" in text and mailbox in text
    assert exported["contacts"] and exported["customer_sources"] and exported["contact_intake"]
    assert "司马强" not in text

    async with runtime.db.transaction() as conn:
        erased = await erase_person(conn, who=who)
    assert erased.contacts >= 1 and erased.source_records >= 3

    stored = await _stored(runtime)
    for trace in ("欧阳伟", phone, phone[3:], mailbox):
        assert trace not in stored
    assert "司马强" in stored and other_phone in stored and company in stored
    async with runtime.db.connect() as conn:
        again = await export_person(conn, who=who)
    assert all(rows == [] for rows in again.values())


@pytest.mark.parametrize(
    ("phone", "email", "field"), [("", " ", "phone or email"), ("12x", "", "phone:"), ("", "a@@b", "email:")]
)
def test_bad_identifiers_are_refused_naming_the_field(phone: str, email: str, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        person(phone=phone, email=email)
