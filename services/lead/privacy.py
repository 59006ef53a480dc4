"""Personal-data rights in the lead service: find, export and anonymise everything held about one person."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from crm_common.contact_points import email_address, lenient_email_key
from lead.domain import normalize_phone
from lead.tables import contacts, leads, quarantine, timeline, touches

# Lead fields that name or reach the person; company, place and source stay for the sales figures.
_PERSONAL_LEAD_FIELDS = ("name", "phone_e164", "email", "notes")
# Keys of a held submission (the caller's input as received) that name or reach the person.
_PERSONAL_INPUT_KEYS = ("name", "phone", "email", "notes")


@dataclass(frozen=True)
class Person:
    """A person as capture normalises them: an E.164 phone and/or an e-mail (compared case-insensitively)."""

    phone_e164: str = ""
    email: str = ""


def person(*, phone: str, email: str, region: str) -> Person:
    """Normalise the identifiers the way capture does; raise ValueError naming the field and the rule."""
    if not phone.strip() and not email.strip():
        raise ValueError("phone or email: at least one is required")
    phone_e164 = ""
    if phone.strip():
        phone_e164, why = normalize_phone(phone, region)
        if why:
            raise ValueError(f"phone: {why}")
    normalized = ""
    if email.strip():
        try:
            normalized = email_address(email) or ""
        except ValueError as err:
            raise ValueError(f"email: {err}") from err
    return Person(phone_e164=phone_e164, email=normalized.lower())


def _lead_match(who: Person) -> Any:
    """Leads captured with this person's phone or e-mail."""
    terms = []
    if who.phone_e164:
        terms.append(leads.c.phone_e164 == who.phone_e164)
    if who.email:
        terms.append(func.lower(leads.c.email) == who.email)
    return or_(*terms)


def _input_is(data: dict, who: Person, region: str) -> bool:
    """True when a held submission's raw phone or e-mail, normalised, is this person's."""
    raw_phone = str(data.get("phone", "") or "")
    if who.phone_e164 and raw_phone and normalize_phone(raw_phone, region)[0] == who.phone_e164:
        return True
    return bool(who.email) and lenient_email_key(str(data.get("email", "") or "")) == who.email


async def _held_submissions(conn: AsyncConnection, *, who: Person, region: str) -> list[Any]:
    """Quarantined submissions of this person (raw input, so matched after normalising each candidate)."""
    terms = []
    if who.phone_e164:
        # The last eight digits (separators dropped) narrow the scan; the exact check is on the normalised number.
        digits = func.regexp_replace(quarantine.c.input["phone"].astext, r"\D", "", "g")
        terms.append(digits.endswith(who.phone_e164[-8:]))
    if who.email:
        terms.append(quarantine.c.input["email"].astext.ilike(f"%{who.email}%"))
    rows = (await conn.execute(select(quarantine).where(or_(*terms)).with_for_update())).all()
    return [row for row in rows if _input_is(dict(row.input), who, region)]


def _jsonable(row: Any) -> dict[str, Any]:
    """A row as JSON-ready values (datetimes as ISO 8601)."""
    return {key: (value.isoformat() if hasattr(value, "isoformat") else value) for key, value in row._mapping.items()}


async def export_person(conn: AsyncConnection, *, who: Person, region: str) -> dict[str, list[dict[str, Any]]]:
    """Everything the lead service holds about the person: leads, their timelines and contacts, held submissions."""
    lead_rows = (await conn.execute(select(leads).where(_lead_match(who)).order_by(leads.c.captured_at))).all()
    lead_ids = [row.id for row in lead_rows]
    steps = (
        await conn.execute(select(timeline).where(timeline.c.lead_id.in_(lead_ids)).order_by(timeline.c.seq))
    ).all()
    touched = (
        await conn.execute(select(contacts).where(contacts.c.lead_id.in_(lead_ids)).order_by(contacts.c.at))
    ).all()
    repeats = (await conn.execute(select(touches).where(touches.c.lead_id.in_(lead_ids)).order_by(touches.c.seq))).all()
    held = await _held_submissions(conn, who=who, region=region)
    return {
        "leads": [_jsonable(row) for row in lead_rows],
        "timeline": [_jsonable(row) for row in steps],
        "contacts": [_jsonable(row) for row in touched],
        "touches": [_jsonable(row) for row in repeats],
        "quarantine": [_jsonable(row) for row in held],
    }


def _without_person(data: dict) -> dict:
    """A stored submission without the keys that name or reach the person."""
    return {key: value for key, value in dict(data).items() if key not in _PERSONAL_INPUT_KEYS}


@dataclass(frozen=True)
class Erased:
    """What one erasure did in the lead service."""

    leads: int
    contacts: int
    quarantined: int

    def summary(self) -> str:
        """One line for the erasure record."""
        return f"anonymised {self.leads} leads, {self.contacts} contact notes, {self.quarantined} held submissions"


async def erase_person(conn: AsyncConnection, *, who: Person, region: str) -> Erased:
    """Blank the person's fields in leads, contact notes, repeat submissions and held ones; ids and figures stay."""
    lead_ids = list(
        (
            await conn.execute(
                update(leads)
                .where(_lead_match(who))
                .values(**{f: "" for f in _PERSONAL_LEAD_FIELDS})
                .returning(leads.c.id)
            )
        ).scalars()
    )
    # A rep's note of a call may quote the person: it goes with them.
    touched = await conn.execute(update(contacts).where(contacts.c.lead_id.in_(lead_ids)).values(summary=""))
    # A repeat submission is kept as a touch with its input: the same keys go.
    repeats = (await conn.execute(select(touches).where(touches.c.lead_id.in_(lead_ids)).with_for_update())).all()
    for row in repeats:
        await conn.execute(update(touches).where(touches.c.seq == row.seq).values(input=_without_person(row.input)))
    held = await _held_submissions(conn, who=who, region=region)
    for row in held:
        await conn.execute(update(quarantine).where(quarantine.c.id == row.id).values(input=_without_person(row.input)))
    return Erased(leads=len(lead_ids), contacts=touched.rowcount or 0, quarantined=len(held))
