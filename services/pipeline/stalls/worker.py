"""Raises stalls when due: sleeps until the earliest due time (or a wake-up), takes what is due, points the clock on.

A batch of due opportunities costs four statements however large it is (the due rows, their events, their
notifications, their next due times and versions), five when it raises new stalls (their pending approvals follow the
new version), so a burst of stalls does not queue behind per-row round trips.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from google.protobuf.message import Message
from sqlalchemy import bindparam, insert, text, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from crm.events.v1 import pipeline_events_pb2
from crm_common.bus.outbox import events_cte, events_cte_params, events_written, riding_events
from crm_common.metrics import PIPELINE_APPROVALS_WAITING, PIPELINE_STALL_LATENESS, PIPELINE_STALLS
from pipeline.approvals import repository as approvals
from pipeline.convert import to_timestamp
from pipeline.definitions import repository as definitions
from pipeline.deps import Deps
from pipeline.stalls import repository as repo
from pipeline.stalls.clock import Due, escalation, first_due
from pipeline.tables import approvals as approvals_table
from pipeline.tables import notifications, opportunities

log = logging.getLogger(__name__)

STALLED = "crm.pipeline.stalled"
LEGAL_REVIEW = "crm.pipeline.legal_review_requested"
BATCH = 500

_SET_CLOCK = (
    update(opportunities)
    .where(opportunities.c.id == bindparam("oid"))
    .values(
        stall_due_at=bindparam("due"), stall_kind=bindparam("kind"), stall_level=bindparam("level"),
        stalled=bindparam("is_stalled"), version=opportunities.c.version + bindparam("bump"),
    )
)
# A raised stall is a change of the deal (its version moves on), but not one an approver must judge again: a
# pending request follows the new version instead of going stale.
_CARRY_APPROVALS = (
    update(approvals_table)
    .where(approvals_table.c.opportunity_id == bindparam("oid"), approvals_table.c.status == "pending")
    .values(opportunity_version=approvals_table.c.opportunity_version + 1)
)


@dataclass
class _Batch:
    """What a batch of due opportunities writes."""

    events: list[tuple[str, Message]] = field(default_factory=list)
    notices: list[dict[str, Any]] = field(default_factory=list)
    clocks: list[dict[str, Any]] = field(default_factory=list)

    def notice(self, row: Row, kind: str, recipient: str, detail: str, at: datetime) -> None:
        self.notices.append(
            {"id": uuid.uuid4(), "opportunity_id": row.id, "kind": kind, "recipient_id": recipient, "detail": detail, "at": at}
        )


async def _act(conn: AsyncConnection, deps: Deps, row: Row, now: datetime, batch: _Batch) -> None:
    """What one due stall (or re-escalation, or legal task) writes, and where its clock points next."""
    pipeline = await definitions.load(conn, key=row.pipeline_key, version=row.pipeline_version)
    stage = pipeline.stage(row.stage)
    owner = await deps.directory.owner(row.owner_id or "")
    kind = row.stall_kind or "stall"
    PIPELINE_STALLS.labels(kind).inc()
    PIPELINE_STALL_LATENESS.observe(max(0.0, (now - row.stall_due_at).total_seconds()))
    since = row.sub_state_entered_at or row.stage_entered_at
    following: Due | None = None
    if kind == "legal":
        batch.events.append(
            (
                LEGAL_REVIEW,
                pipeline_events_pb2.LegalReviewRequested(
                    opportunity_id=str(row.id), stage=row.stage, sub_state=row.sub_state, owner_id=row.owner_id or "",
                    since=to_timestamp(since), at=to_timestamp(now),
                ),
            )
        )
        batch.notice(row, "legal_review", "legal", f"{row.sub_state} for more than 48 h", now)
        if stage is not None:
            following = first_due(
                stage, sub_state=row.sub_state, since=row.stage_entered_at, sub_state_since=row.sub_state_entered_at,
                next_step_at=row.next_step_at, calendar=owner.calendar, legal_done=True,
            )
    else:
        level = 1 if kind == "escalate" else 0
        batch.events.append(
            (
                STALLED,
                pipeline_events_pb2.OpportunityStalled(
                    opportunity_id=str(row.id), stage=row.stage, sub_state=row.sub_state, owner_id=row.owner_id or "",
                    team_id=row.team_id, level=level, due_at=to_timestamp(row.stall_due_at), at=to_timestamp(now),
                    block_reasons=list(pipeline.block_reasons),
                ),
            )
        )
        where = f"{row.stage}{'/' + row.sub_state if row.sub_state else ''} since {since.isoformat(timespec='seconds')}"
        if level == 0:
            for recipient in filter(None, (row.owner_id, owner.manager_id)):
                batch.notice(row, "stalled", recipient, where, now)
            if stage is not None:
                following = escalation(stage, sub_state=row.sub_state, raised_at=now, calendar=owner.calendar)
        else:
            batch.notice(row, "stall_escalated", f"manager of {owner.manager_id or row.team_id}", where, now)
    batch.clocks.append(
        {
            "oid": row.id, "due": following.at if following else None, "kind": following.kind if following else "",
            "level": following.level if following else 0, "is_stalled": row.stalled or kind != "legal",
            # Raising the stall changes the deal; a re-escalation or a legal task does not.
            "bump": 1 if kind != "legal" and not row.stalled else 0,
        }
    )


async def _write(conn: AsyncConnection, deps: Deps, batch: _Batch) -> None:
    outbox = deps.runtime.definition.outbox
    riding = riding_events(conn, outbox, batch.events)
    statement = text(f"WITH {events_cte(outbox, notify=riding.notify)} SELECT 1").bindparams(
        *events_cte_params(notify=riding.notify)
    )
    await conn.execute(statement, riding.params)
    events_written(conn, riding)
    if batch.notices:
        await conn.execute(insert(notifications), batch.notices)
    await conn.execute(_SET_CLOCK, batch.clocks)
    bumped = [{"oid": c["oid"]} for c in batch.clocks if c["bump"]]
    if bumped:
        await conn.execute(_CARRY_APPROVALS, bumped)


async def raise_due(deps: Deps, *, now: datetime, limit: int = BATCH) -> int:
    """Act on every opportunity due by `now` (in batches); safe on many replicas at once."""
    done = 0
    while True:
        async with deps.runtime.db.transaction() as conn:
            rows = await repo.due(conn, now=now, limit=limit)
            if rows:
                # Stamped when raised (not when the pass began), so lateness and "never before due" are honest.
                raised_at = max(now, deps.now())
                batch = _Batch()
                for row in rows:
                    await _act(conn, deps, row, raised_at, batch)
                await _write(conn, deps, batch)
        done += len(rows)
        if len(rows) < limit:
            return done


async def run(deps: Deps, wake: asyncio.Event) -> None:
    """Background task: sleep until the earliest due time (at most the poll interval), raise what is due."""
    poll = float(getattr(deps.runtime.settings, "stall_poll_seconds", 1.0))
    while True:
        try:
            await raise_due(deps, now=deps.now())
            async with deps.runtime.db.connect() as conn:
                soonest = await repo.next_due(conn)
                PIPELINE_APPROVALS_WAITING.set(await approvals.count_pending(conn))
            wait = poll if soonest is None else min(poll, max(0.0, (soonest - deps.now()).total_seconds()))
        except Exception as err:
            log.warning("stall worker failed, will retry: %s", err)
            wait = poll
        wake.clear()
        try:
            await asyncio.wait_for(wake.wait(), timeout=wait)
        except TimeoutError:
            pass
