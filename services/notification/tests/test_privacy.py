"""Exporting and blanking the notifications that named one person, by their lead ids; others' stay."""

from __future__ import annotations

import json
import uuid

from sqlalchemy import select

from crm_common.service import Runtime
from notification.privacy import erase_for_leads, export_for_leads
from notification.tables import inbox_messages, notifications

from .test_handlers import assign


async def test_export_then_erase_blanks_only_that_persons_notifications(runtime: Runtime) -> None:
    theirs, other = str(uuid.uuid4()), str(uuid.uuid4())
    name, other_name = f"欧阳{uuid.uuid4().hex[:6]}", f"司马{uuid.uuid4().hex[:6]}"
    await assign(runtime, lead_id=theirs, lead_name=name)
    await assign(runtime, lead_id=theirs, lead_name=name)
    await assign(runtime, lead_id=other, lead_name=other_name)

    async with runtime.db.connect() as conn:
        exported = await export_for_leads(conn, lead_ids=[theirs])
    assert len(exported["notifications"]) == len(exported["inbox_messages"]) == 2
    assert name in json.dumps(exported, ensure_ascii=False)
    assert other_name not in json.dumps(exported, ensure_ascii=False)

    async with runtime.db.transaction() as conn:
        assert await erase_for_leads(conn, lead_ids=[theirs]) == 2

    async with runtime.db.connect() as conn:
        rows = [
            dict(r._mapping) for t in (notifications, inbox_messages) for r in (await conn.execute(select(t))).all()
        ]
    stored = json.dumps(rows, default=str, ensure_ascii=False)
    assert name not in stored and other_name in stored
