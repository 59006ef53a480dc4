"""Raises stalls when due: sleeps until the earliest due time (or a wake-up), takes what is due, points the clock on."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from crm.events.v1 import pipeline_events_pb2
from crm_common.metrics import PIPELINE_APPROVALS_WAITING, PIPELINE_STALL_LATENESS, PIPELINE_STALLS
from pipeline.approvals import repository as approvals
from pipeline.convert import to_timestamp
from pipeline.definitions import repository as definitions
from pipeline.deps import Deps
from pipeline.stalls import repository as repo
from pipeline.stalls.clock import Due, escalation, first_due

log = logging.getLogger(__name__)

STALLED = "crm.pipeline.stalled"
LEGAL_REVIEW = "crm.pipeline.legal_review_requested"
BATCH = 500


async def _act(conn: AsyncConnection, deps: Deps, row: Row, now: datetime) -> None:
    """Raise one due stall (or re-escalation, or legal task), tell through notification, point the clock on."""
    pipeline = await definitions.load(conn, key=row.pipeline_key, version=row.pipeline_version)
    stage = pipeline.stage(row.stage)
    owner = await deps.directory.owner(row.owner_id or "")
    kind = row.stall_kind or "stall"
    PIPELINE_STALLS.labels(kind).inc()
    PIPELINE_STALL_LATENESS.observe(max(0.0, (now - row.stall_due_at).total_seconds()))
    following: Due | None = None
    if kind == "legal":
        await deps.runtime.stage(
            conn,
            LEGAL_REVIEW,
            pipeline_events_pb2.LegalReviewRequested(
                opportunity_id=str(row.id), stage=row.stage, sub_state=row.sub_state, owner_id=row.owner_id or "",
                since=to_timestamp(row.sub_state_entered_at or row.stage_entered_at), at=to_timestamp(now),
            ),
        )
        await approvals.add_notification(
            conn, opportunity_id=row.id, kind="legal_review", recipient_id="legal",
            detail=f"{row.sub_state} for more than 48 h", at=now,
        )
        if stage is not None:
            following = first_due(
                stage, sub_state=row.sub_state, since=row.stage_entered_at, sub_state_since=row.sub_state_entered_at,
                next_step_at=row.next_step_at, calendar=owner.calendar, legal_done=True,
            )
    else:
        level = 1 if kind == "escalate" else 0
        await deps.runtime.stage(
            conn,
            STALLED,
            pipeline_events_pb2.OpportunityStalled(
                opportunity_id=str(row.id), stage=row.stage, sub_state=row.sub_state, owner_id=row.owner_id or "",
                team_id=row.team_id, level=level, due_at=to_timestamp(row.stall_due_at), at=to_timestamp(now),
                block_reasons=list(pipeline.block_reasons),
            ),
        )
        told = [row.owner_id or "", owner.manager_id] if level == 0 else [f"manager of {owner.manager_id or row.team_id}"]
        for recipient in filter(None, told):
            await approvals.add_notification(
                conn, opportunity_id=row.id, kind="stalled" if level == 0 else "stall_escalated",
                recipient_id=recipient, detail=f"{row.stage}{'/' + row.sub_state if row.sub_state else ''} since "
                f"{(row.sub_state_entered_at or row.stage_entered_at).isoformat(timespec='seconds')}",
                at=now,
            )
        if level == 0 and stage is not None:
            following = escalation(stage, sub_state=row.sub_state, raised_at=now, calendar=owner.calendar)
    await repo.set_clock(
        conn,
        opportunity_id=row.id,
        values={
            "stall_due_at": following.at if following else None,
            "stall_kind": following.kind if following else "",
            "stall_level": following.level if following else 0,
            "stalled": row.stalled or kind != "legal",
        },
    )


async def raise_due(deps: Deps, *, now: datetime, limit: int = BATCH) -> int:
    """Act on every opportunity due by `now` (in batches); safe on many replicas at once."""
    done = 0
    while True:
        async with deps.runtime.db.transaction() as conn:
            rows = await repo.due(conn, now=now, limit=limit)
            for row in rows:
                await _act(conn, deps, row, now)
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
