"""An opportunity as a reader sees it: its current stage's actions, and its append-only history as stays."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from crm.pipeline.v1 import pipeline_pb2
from pipeline.approvals import repository as approvals
from pipeline.convert import opportunity_message, to_timestamp
from pipeline.definitions import repository as definitions
from pipeline.stages import gates
from pipeline.stages import repository as repo


def stays(stages: Sequence[Row], subs: Sequence[Row], now: datetime) -> list[pipeline_pb2.HistoryEntry]:
    """One entry per stay in a stage: entered/left, by whom, approval or override, time in it and its sub-states."""
    out = []
    seen: dict[str, int] = {}
    for i, entry in enumerate(stages):
        left = stages[i + 1].at if i + 1 < len(stages) else None
        end = left or now
        dwell: dict[str, float] = {}
        inside = [s for s in subs if entry.at <= s.at < end]
        for j, sub in enumerate(inside):
            until = inside[j + 1].at if j + 1 < len(inside) else end
            if sub.sub_state:
                dwell[sub.sub_state] = dwell.get(sub.sub_state, 0.0) + (until - sub.at).total_seconds()
        out.append(
            pipeline_pb2.HistoryEntry(
                stage=entry.stage,
                entered_at=to_timestamp(entry.at),
                left_at=to_timestamp(left) if left else None,
                by=entry.by,
                approved_by=entry.approved_by,
                override=entry.override,
                reason=entry.reason,
                seconds_in_stage=(end - entry.at).total_seconds(),
                sub_state_seconds=dwell,
                reentry=seen.get(entry.stage, 0),
            )
        )
        seen[entry.stage] = seen.get(entry.stage, 0) + 1
    return out


async def full(conn: AsyncConnection, *, row: Row, now: datetime) -> pipeline_pb2.Opportunity:
    """The opportunity with its actions, history and pending approval."""
    pipeline = await definitions.load(conn, key=row.pipeline_key, version=row.pipeline_version)
    stage = pipeline.stage(row.stage)
    facts = await repo.facts(conn, row=row)
    evidence = await repo.list_evidence(conn, opportunity_id=row.id, since=row.stage_entered_at)
    actions = []
    for action in stage.actions if stage is not None else ():
        done, _ = gates.check(action, facts)
        mine = [
            e for e in evidence
            if (action.kind == "contact" and e.kind == "contact") or (e.kind == action.kind and e.action == action.key)
        ]
        actions.append(
            pipeline_pb2.ActionState(
                stage=row.stage, key=action.key, done=done,
                evidence=[str(e.id) for e in mine] or ([action.field] if action.kind == "field" and done else []),
            )
        )
    stage_rows, sub_rows = await repo.history(conn, opportunity_id=row.id)
    pending = await approvals.pending_of(conn, opportunity_id=row.id)
    return opportunity_message(row, actions=actions, history=stays(stage_rows, sub_rows, now), pending=pending)
