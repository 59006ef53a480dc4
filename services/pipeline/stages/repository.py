"""Queries of stage state, evidence and history; the stage columns are written only by apply_move (from move.py)."""

from __future__ import annotations

import uuid
from datetime import datetime
from functools import lru_cache
from typing import Any

from google.protobuf.message import Message
from sqlalchemy import Table, TextClause, exists, func, insert, select, text, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from crm_common.bus.outbox import events_cte, events_cte_params, events_written, riding_events
from pipeline.stages.gates import Facts
from pipeline.tables import evidence, opportunities, stage_history, sub_state_history

EVIDENCE_COLUMNS = [c for c in evidence.c if c.name != "content"]


async def lock(conn: AsyncConnection, *, opportunity_id: uuid.UUID) -> Row | None:
    """The opportunity, locked for the rest of the transaction (concurrent changes of one deal queue here)."""
    return (
        await conn.execute(select(opportunities).where(opportunities.c.id == opportunity_id).with_for_update())
    ).first()


# The deal, locked, with the evidence of its current stage: one round trip for what a stage change reads.
_LOCK_WITH_EVIDENCE = text(
    """
    SELECT o.*, e.ev_kinds, e.ev_actions, e.ev_media_types
    FROM pipeline.opportunities o
    LEFT JOIN LATERAL (
        SELECT array_agg(ev.kind) AS ev_kinds, array_agg(ev.action) AS ev_actions,
               array_agg(ev.media_type) AS ev_media_types
        FROM pipeline.evidence ev
        WHERE ev.opportunity_id = o.id AND ev.at >= o.stage_entered_at
    ) e ON true
    WHERE o.id = :id
    FOR UPDATE OF o
    """
)


async def lock_with_facts(conn: AsyncConnection, *, opportunity_id: uuid.UUID) -> tuple[Row, Facts] | None:
    """The opportunity, locked, and the evidence of its current stage (None when there is no such opportunity)."""
    row = (await conn.execute(_LOCK_WITH_EVIDENCE, {"id": opportunity_id})).first()
    if row is None:
        return None
    return row, _facts_of(row, zip(row.ev_kinds or (), row.ev_actions or (), row.ev_media_types or (), strict=True))


def _facts_of(row: Row, evidence_rows: Any) -> Facts:
    files: dict[str, list[str]] = {}
    confirmations: dict[str, int] = {}
    contacts = 0
    for kind, action, media_type in evidence_rows:
        if kind == "contact":
            contacts += 1
        elif kind == "file":
            files.setdefault(action, []).append(media_type)
        elif kind == "confirmation":
            confirmations[action] = confirmations.get(action, 0) + 1
    return Facts(
        contacts_since_entry=contacts,
        files={k: tuple(v) for k, v in files.items()},
        confirmations=confirmations,
        fields={name: getattr(row, name, None) for name in row._fields},
    )


async def facts(conn: AsyncConnection, *, row: Row) -> Facts:
    """The evidence of the opportunity's current stage, in one round trip."""
    rows = (
        await conn.execute(
            select(evidence.c.kind, evidence.c.action, evidence.c.media_type).where(
                evidence.c.opportunity_id == row.id,
                evidence.c.at >= row.stage_entered_at,
            )
        )
    ).all()
    return _facts_of(row, rows)


async def repeat_customer(conn: AsyncConnection, *, customer_id: str | None, besides: uuid.UUID) -> bool:
    """Whether the customer has another opportunity that was won."""
    if not customer_id:
        return False
    query = select(
        exists().where(
            opportunities.c.customer_id == customer_id,
            opportunities.c.status == "won",
            opportunities.c.id != besides,
        )
    )
    return bool((await conn.execute(query)).scalar())


# The move, its history entry and its events in one statement: the entry and the events are written only if the
# update found the version it was read at (the change they record happened).
_MOVE = """
WITH moved AS (
    UPDATE pipeline.opportunities SET
        stage = :stage, status = :status, pipeline_version = :pipeline_version, stage_entered_at = :at,
        sub_state = '', sub_state_entered_at = NULL, stalled = false, block_reason = '',
        closed_at = CAST(:closed_at AS timestamptz), lost_reason = :lost_reason,
        stall_due_at = CAST(:stall_due_at AS timestamptz), stall_kind = :stall_kind, stall_level = 0,
        version = version + 1
    WHERE id = :id AND version = :version
    RETURNING *
), entry AS (
    INSERT INTO pipeline.stage_history (opportunity_id, stage, at, by, approved_by, override, reason, approval_id)
    SELECT id, :stage, :at, :by, :approved_by, :override, :reason, CAST(:approval_id AS uuid) FROM moved
), {events}
SELECT * FROM moved
"""


@lru_cache(maxsize=4)
def _move_statement(outbox: Table, notify: bool) -> TextClause:
    return text(_MOVE.format(events=events_cte(outbox, notify=notify, when="moved"))).bindparams(
        *events_cte_params(notify=notify)
    )


async def apply_move(
    conn: AsyncConnection,
    *,
    row: Row,
    values: dict[str, Any],
    history: dict[str, Any],
    at: datetime,
    outbox: Table,
    events: list[tuple[str, Message]],
) -> Row | None:
    """Write the new stage, its history entry and events if nobody changed the opportunity since `row` was read.

    None when somebody did (nothing is written then).
    """
    riding = riding_events(conn, outbox, events)
    params = {
        "id": row.id, "version": row.version, "at": at, "stage": values["stage"], "status": values["status"],
        "pipeline_version": values["pipeline_version"], "closed_at": values["closed_at"],
        "lost_reason": values["lost_reason"], "stall_due_at": values["stall_due_at"], "stall_kind": values["stall_kind"],
        "by": history["by"], "approved_by": history["approved_by"], "override": history["override"],
        "reason": history["reason"], "approval_id": history["approval_id"],
    } | riding.params
    moved = (await conn.execute(_move_statement(outbox, riding.notify), params)).first()
    if moved is not None:
        events_written(conn, riding)
    return moved


async def bump(
    conn: AsyncConnection, *, opportunity_id: uuid.UUID, version: int | None, values: dict[str, Any]
) -> Row | None:
    """Change non-stage fields (version None: whatever the current one); None when the version moved on."""
    query = update(opportunities).where(opportunities.c.id == opportunity_id)
    if version:
        query = query.where(opportunities.c.version == version)
    return (
        await conn.execute(query.values(**values, version=opportunities.c.version + 1).returning(*opportunities.c))
    ).first()


async def add_evidence(conn: AsyncConnection, *, opportunity_id: uuid.UUID, values: dict[str, Any]) -> Row:
    """Record one piece of evidence (contact, file or confirmation)."""
    return (
        await conn.execute(
            insert(evidence)
            .values(id=uuid.uuid4(), opportunity_id=opportunity_id, **values)
            .returning(*EVIDENCE_COLUMNS)
        )
    ).one()


async def list_evidence(conn: AsyncConnection, *, opportunity_id: uuid.UUID, since: datetime) -> list[Row]:
    """Evidence recorded since a moment (the current stage's entry), oldest first."""
    return list(
        (
            await conn.execute(
                select(*EVIDENCE_COLUMNS)
                .where(evidence.c.opportunity_id == opportunity_id, evidence.c.at >= since)
                .order_by(evidence.c.at)
            )
        ).all()
    )


async def add_sub_state(conn: AsyncConnection, *, opportunity_id: uuid.UUID, stage: str, sub_state: str, at: datetime, by: str) -> None:
    await conn.execute(
        insert(sub_state_history).values(opportunity_id=opportunity_id, stage=stage, sub_state=sub_state, at=at, by=by)
    )


async def history(conn: AsyncConnection, *, opportunity_id: uuid.UUID) -> tuple[list[Row], list[Row]]:
    """(stage entries, sub-state entries) of an opportunity, oldest first."""
    stages = (
        await conn.execute(
            select(stage_history)
            .where(stage_history.c.opportunity_id == opportunity_id)
            .order_by(stage_history.c.at, stage_history.c.id)
        )
    ).all()
    subs = (
        await conn.execute(
            select(sub_state_history)
            .where(sub_state_history.c.opportunity_id == opportunity_id)
            .order_by(sub_state_history.c.at, sub_state_history.c.id)
        )
    ).all()
    return list(stages), list(subs)


async def count_open(conn: AsyncConnection) -> int:
    return int((await conn.execute(select(func.count()).where(opportunities.c.status == "open"))).scalar() or 0)
