"""Personal-data rights in the customer master: find, export and anonymise one person's customer and contact data."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, false, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from customer_master.contacts import normalize_email, normalize_phone
from customer_master.tables import (
    contact_intake,
    contact_keys,
    contact_sources,
    contacts,
    customer_changes,
    customer_sources,
    customers,
)

# History rows whose values are the person's own.
_PERSONAL_CHANGE_FIELDS = ("name", "phone", "phone_e164", "email", "email_normalized")


@dataclass(frozen=True)
class Person:
    """A person by the customer master's keys: E.164 phone and/or normalised e-mail."""

    phone: str | None
    email: str | None


def person(*, phone: str, email: str) -> Person:
    """Normalise with the contact normalisers; raise ValueError naming the field and the rule."""
    if not phone.strip() and not email.strip():
        raise ValueError("phone or email: at least one is required")
    try:
        phone_key = normalize_phone(phone)
    except ValueError as err:
        raise ValueError(f"phone: {err}") from err
    try:
        email_key = normalize_email(email)
    except ValueError as err:
        raise ValueError(f"email: {err}") from err
    return Person(phone=phone_key, email=email_key)


def _match(who: Person, phone_col: Any, email_col: Any, *, raw: bool = False) -> Any:
    """Rows whose phone or e-mail is the person's (raw columns compared without separators or case)."""
    terms = []
    if who.phone:
        digits = who.phone.lstrip("+")
        terms.append(func.regexp_replace(phone_col, r"\D", "", "g") == digits if raw else phone_col == who.phone)
    if who.email:
        terms.append(func.lower(func.btrim(email_col)) == who.email if raw else email_col == who.email)
    return or_(false(), *terms)


def _jsonable(row: Any) -> dict[str, Any]:
    """A row as JSON-ready values (ids as text, datetimes as ISO 8601)."""
    out = {}
    for key, value in row._mapping.items():
        out[key] = (
            value.isoformat()
            if hasattr(value, "isoformat")
            else (value if value is None or isinstance(value, (str, int, float, bool, dict, list)) else str(value))
        )
    return out


async def _ids(conn: AsyncConnection, who: Person) -> tuple[list[Any], list[Any]]:
    """The person's customer records and golden contacts."""
    customer_ids = list(
        (
            await conn.execute(
                select(customers.c.id).where(_match(who, customers.c.phone_e164, customers.c.email_normalized))
            )
        ).scalars()
    )
    contact_ids = list(
        (
            await conn.execute(
                select(contacts.c.id).where(_match(who, contacts.c.phone_e164, contacts.c.email_normalized))
            )
        ).scalars()
    )
    return customer_ids, contact_ids


def _source_match(who: Person, contact_ids: list[Any]) -> Any:
    """Contact source records of the person: by key, or linked to one of their contacts."""
    return or_(
        contact_sources.c.contact_id.in_(contact_ids),
        _match(who, contact_sources.c.phone_e164, contact_sources.c.email_normalized),
    )


async def export_person(conn: AsyncConnection, *, who: Person) -> dict[str, list[dict[str, Any]]]:
    """Customer records, their source records, contacts, contact sources and queued intake naming the person."""
    customer_ids, contact_ids = await _ids(conn, who)
    queries = {
        "customers": select(customers).where(customers.c.id.in_(customer_ids)),
        "customer_sources": select(customer_sources).where(
            _match(who, customer_sources.c.phone, customer_sources.c.email, raw=True)
        ),
        "contacts": select(contacts).where(contacts.c.id.in_(contact_ids)),
        "contact_sources": select(contact_sources).where(_source_match(who, contact_ids)),
        "contact_intake": select(contact_intake).where(
            _match(who, contact_intake.c.phone, contact_intake.c.email, raw=True)
        ),
    }
    return {name: [_jsonable(row) for row in (await conn.execute(query)).all()] for name, query in queries.items()}


@dataclass(frozen=True)
class Erased:
    """What one erasure did in the customer master."""

    customers: int
    contacts: int
    source_records: int

    def summary(self) -> str:
        """One line for the erasure record."""
        return (
            f"anonymised {self.customers} customer records, {self.contacts} contacts, "
            f"{self.source_records} source records"
        )


async def erase_person(conn: AsyncConnection, *, who: Person) -> Erased:
    """Blank the person's name, phone and e-mail everywhere in the customer master; accounts and ids stay."""
    customer_ids, contact_ids = await _ids(conn, who)
    await conn.execute(
        update(customers)
        .where(customers.c.id.in_(customer_ids))
        .values(name="", phone_e164=None, email_normalized=None)
    )
    await conn.execute(
        update(customer_changes)
        .where(customer_changes.c.customer_id.in_(customer_ids), customer_changes.c.field.in_(_PERSONAL_CHANGE_FIELDS))
        .values(old_value=None, new_value=None)
    )
    sources = await conn.execute(
        update(customer_sources)
        .where(_match(who, customer_sources.c.phone, customer_sources.c.email, raw=True))
        .values(name=None, phone=None, email=None)
    )
    linked = await conn.execute(
        update(contact_sources)
        .where(_source_match(who, contact_ids))
        .values(name=None, phone_e164=None, email_normalized=None, match={})
    )
    await conn.execute(
        update(contacts)
        .where(contacts.c.id.in_(contact_ids))
        .values(name="", phone_e164=None, email_normalized=None, provenance={})
    )
    # The blocking keys are the phone, e-mail and surname themselves.
    await conn.execute(delete(contact_keys).where(contact_keys.c.contact_id.in_(contact_ids)))
    queued = await conn.execute(
        update(contact_intake)
        .where(_match(who, contact_intake.c.phone, contact_intake.c.email, raw=True))
        .values(name="", phone="", email="")
    )
    return Erased(
        customers=len(customer_ids),
        contacts=len(contact_ids),
        source_records=(sources.rowcount or 0) + (linked.rowcount or 0) + (queued.rowcount or 0),
    )
