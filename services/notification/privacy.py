"""Personal-data rights in the notification service: the texts that named a person, found by their lead ids."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from notification.tables import inbox_messages, notifications

# Recipients are staff; a lead's person appears only in the rendered title and body of notifications about it.


def _jsonable(row: Any) -> dict[str, Any]:
    """A row as JSON-ready values (ids as text, datetimes as ISO 8601)."""
    out: dict[str, Any] = {}
    for key, value in row._mapping.items():
        if hasattr(value, "isoformat"):
            out[key] = value.isoformat()
        elif value is None or isinstance(value, (str, int, float, bool)):
            out[key] = value
        else:
            out[key] = str(value)
    return out


async def export_for_leads(conn: AsyncConnection, *, lead_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """The notifications about these leads and the in-app messages made from them."""
    sent = (
        await conn.execute(
            select(notifications).where(notifications.c.lead_id.in_(lead_ids)).order_by(notifications.c.created_at)
        )
    ).all()
    inbox = (
        await conn.execute(select(inbox_messages).where(inbox_messages.c.notification_id.in_([row.id for row in sent])))
    ).all()
    return {"notifications": [_jsonable(row) for row in sent], "inbox_messages": [_jsonable(row) for row in inbox]}


async def erase_for_leads(conn: AsyncConnection, *, lead_ids: list[str]) -> int:
    """Blank the title and body of every notification (and in-app message) about these leads; returns how many."""
    erased = list(
        (
            await conn.execute(
                update(notifications)
                .where(notifications.c.lead_id.in_(lead_ids))
                .values(title="", body="")
                .returning(notifications.c.id)
            )
        ).scalars()
    )
    await conn.execute(
        update(inbox_messages).where(inbox_messages.c.notification_id.in_(erased)).values(title="", body="")
    )
    return len(erased)
