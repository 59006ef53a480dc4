"""Over its time budget a report answers its last good result, marked stale; never answered: UNAVAILABLE."""

from __future__ import annotations

import uuid
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from crm_common.errors import Unavailable
from crm_common.service import Runtime
from reporting.reports import runner
from reporting.reports.domain import Question, Visibility


async def _slow(conn: AsyncConnection, question: Question) -> dict[str, Any]:
    # Far over any budget below: the statement is cancelled by PostgreSQL, whatever the machine's speed.
    await conn.execute(text("SELECT pg_sleep(30)"))
    return {"never": True}


def _question(rep: str) -> Question:
    return Question(report="kpi", parameters={}, visibility=Visibility(rep_id=rep), zone=ZoneInfo("Asia/Shanghai"))


async def test_over_budget_answers_the_last_good_result_as_stale(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    question = _question(uuid.uuid4().hex)
    fresh = await runner.answer(runtime.db, question, budget_ms=5000, retry_after_seconds=5)
    assert not fresh.stale and fresh.body["new_leads_today"] == 0
    monkeypatch.setitem(runner.COMPUTE, "kpi", _slow)
    late = await runner.answer(runtime.db, question, budget_ms=50, retry_after_seconds=5)
    assert late.stale and late.body == fresh.body and late.as_of == fresh.as_of


async def test_never_answered_is_unavailable_with_a_retry_hint(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(runner.COMPUTE, "kpi", _slow)
    monkeypatch.setattr(runner, "_in_background", lambda *args: None)  # the background run would sleep 30 s
    with pytest.raises(Unavailable, match="retry after 7 s"):
        await runner.answer(runtime.db, _question(uuid.uuid4().hex), budget_ms=50, retry_after_seconds=7)
