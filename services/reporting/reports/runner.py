"""Answering a question within its time budget: the fresh answer, else the last good one marked stale."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from crm_common.db import Database
from crm_common.errors import Unavailable
from reporting.reports import domain
from reporting.reports import repository as repo
from reporting.reports.domain import Question

log = logging.getLogger(__name__)
Compute = Callable[[AsyncConnection, Question], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Answer:
    """A report's body, when it was computed, and whether it is an older answer given because of the budget."""

    body: dict[str, Any]
    as_of: datetime
    stale: bool


async def _funnel(conn: AsyncConnection, q: Question) -> dict[str, Any]:
    start, end = domain.date_range(q)
    return {
        "rows": await repo.funnel(
            conn, start=start, end=end, dimensions=domain.group_by(q.parameters), visibility=q.visibility
        )
    }


async def _stage_actions(conn: AsyncConnection, q: Question) -> dict[str, Any]:
    return {"cells": await repo.stage_actions(conn, pipeline=q.parameters.get("pipeline", ""), visibility=q.visibility)}


async def _stage_action_opportunities(conn: AsyncConnection, q: Question) -> dict[str, Any]:
    p = q.parameters
    return {
        "opportunities": await repo.stage_action_opportunities(
            conn,
            pipeline=p.get("pipeline", ""),
            stage=p.get("stage", ""),
            action=p.get("action", ""),
            visibility=q.visibility,
        )
    }


async def _assignment_health(conn: AsyncConnection, q: Question) -> dict[str, Any]:
    start = q.day_start(domain.day_of(q))
    return await repo.assignment_health(
        conn, start=start, end=start + timedelta(days=1), now=q.now, visibility=q.visibility
    )


# A required field below this share of the day's leads, three days running, is the supervisor's to chase.
COMPLETENESS_THRESHOLD = 0.92


async def _data_health(conn: AsyncConnection, q: Question) -> dict[str, Any]:
    day = domain.day_of(q)
    end = q.day_start(day) + timedelta(days=1)
    days = []
    for back in range(3):
        day_start = q.day_start(day - timedelta(days=back))
        days.append(
            await repo.completeness(conn, start=day_start, end=day_start + timedelta(days=1), visibility=q.visibility)
        )
    entry, _ = await repo.completeness(conn, start=end - timedelta(hours=24), end=end, visibility=q.visibility)
    below: dict[str, int] = {}
    for name in repo.REQUIRED_FIELDS:
        run = 0
        for _, shares in days:
            share = shares[name]
            if share is None or share >= COMPLETENESS_THRESHOLD:
                break
            run += 1
        below[name] = run
    return {
        "entry_rate_24h": entry,
        "completeness": days[0][1],
        "below_threshold_days": below,
        # The customer master's events do not carry its duplicate candidates, nor the lead events a phone.
        "duplicate_candidates": None,
        "invalid_phone": None,
        "untouched_30d": await repo.untouched(conn, before=end - timedelta(days=30), visibility=q.visibility),
    }


async def _kpi(conn: AsyncConnection, q: Question) -> dict[str, Any]:
    today = q.today()
    return await repo.kpi(
        conn, today=q.day_start(today), month=q.day_start(today.replace(day=1)), visibility=q.visibility
    )


async def _sub_state_dwell(conn: AsyncConnection, q: Question) -> dict[str, Any]:
    first = domain.month_of(q.parameters, q.today())
    cells = await repo.sub_state_dwell(
        conn,
        pipeline=q.parameters.get("pipeline", ""),
        start=q.day_start(first),
        end=q.day_start(domain.next_month(first)),
        visibility=q.visibility,
    )
    return {"month": first.isoformat()[:7], "cells": cells}


COMPUTE: dict[str, Compute] = {
    "sub-state-dwell": _sub_state_dwell,
    "funnel": _funnel,
    "stage-actions": _stage_actions,
    "stage-action-opportunities": _stage_action_opportunities,
    "assignment-health": _assignment_health,
    "data-health": _data_health,
    "kpi": _kpi,
}


# A question that has never been answered is computed once more in the background with a larger budget, so the
# client's retry (after Retry-After) finds its answer.
BACKGROUND_BUDGET_FACTOR = 30
_BACKGROUND: dict[tuple[str, str], asyncio.Task[None]] = {}


def _in_background(db: Database, question: Question, budget_ms: int) -> None:
    key = (question.report, question.key())
    if key in _BACKGROUND:
        return

    async def run() -> None:
        try:
            await answer(db, question, budget_ms=budget_ms, retry_after_seconds=0)
        except Exception as err:  # logged: the next request tries again
            log.warning("background %s report failed: %s", question.report, err)
        finally:
            _BACKGROUND.pop(key, None)

    _BACKGROUND[key] = asyncio.get_running_loop().create_task(run())


def _timed_out(err: DBAPIError) -> bool:
    return getattr(err.orig, "sqlstate", None) == "57014"  # query_canceled: statement_timeout


async def answer(db: Database, question: Question, *, budget_ms: int, retry_after_seconds: int) -> Answer:
    """The question answered within budget_ms; over it, the last good answer (stale); none yet: Unavailable."""
    compute = COMPUTE[question.report]
    key = question.key()
    try:
        async with db.transaction() as conn:
            await conn.execute(text(f"SET LOCAL statement_timeout = {int(budget_ms)}"))
            body = await compute(conn, question)
            as_of = (await conn.execute(text("SELECT now()"))).scalar_one()
            await conn.execute(
                text("""INSERT INTO reporting.report_result (report, question, body, as_of)
                VALUES (:report, :question, CAST(:body AS jsonb), :as_of) ON CONFLICT (report, question)
                DO UPDATE SET body = excluded.body, as_of = excluded.as_of"""),
                {"report": question.report, "question": key, "body": json.dumps(body), "as_of": as_of},
            )
        return Answer(body=body, as_of=as_of, stale=False)
    except DBAPIError as err:
        if not _timed_out(err):
            raise
        log.warning("report %s over its %d ms budget", question.report, budget_ms)
    async with db.connect() as conn:
        last = (
            await conn.execute(
                text("SELECT body, as_of FROM reporting.report_result WHERE report = :r AND question = :q"),
                {"r": question.report, "q": key},
            )
        ).first()
    if last is None:
        _in_background(db, question, budget_ms * BACKGROUND_BUDGET_FACTOR)
        raise Unavailable(f"the {question.report} report is being computed; retry after {retry_after_seconds} s")
    return Answer(body=last.body, as_of=last.as_of, stale=True)
