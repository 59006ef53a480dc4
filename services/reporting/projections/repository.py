"""Every write of the projections: keyword-only functions on the caller's connection.

Each takes `tables`, the projection name → table name to write, so a rebuild applies the same statements to a
new table. Every statement is order-independent where events of different streams may arrive in any order
(earliest/latest by the event's own time), so the live projection and a rebuild from history agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

SCHEMA = "reporting"
LIVE: Mapping[str, str] = {
    name: name for name in ("lead_fact", "opportunity_fact", "stage_visit", "stage_action", "sub_state_dwell")
}


def _t(tables: Mapping[str, str], name: str) -> str:
    return f"{SCHEMA}.{tables[name]}"


COLLECT = "reporting.collect"


async def _run(conn: AsyncConnection, sql: str, params: dict[str, object]) -> None:
    collected = conn.info.get(COLLECT)
    if collected is not None:  # a batch: executed together by flush()
        collected.append((sql, params))
        return
    await conn.execute(text(sql), params)


async def flush(conn: AsyncConnection, statements: list[tuple[str, dict[str, object]]]) -> None:
    """Run collected statements in their order, each run of one statement as one executemany (pipelined)."""
    i = 0
    while i < len(statements):
        sql = statements[i][0]
        j = i
        while j < len(statements) and statements[j][0] == sql:
            j += 1
        await conn.execute(text(sql), [params for _, params in statements[i:j]])
        i = j


async def lead_captured(
    conn: AsyncConnection,
    *,
    tables: Mapping[str, str] = LIVE,
    lead_id: str,
    channel: str | None,
    province: str | None,
    industry: str | None,
    customer_id: str | None,
    captured_at: datetime,
) -> None:
    """A capture: the authority on the lead's channel, province, industry and capture time."""
    await _run(
        conn,
        f"""
        INSERT INTO {_t(tables, "lead_fact")} AS f (lead_id, channel, province, industry, customer_id, captured_at,
            last_touch_at)
        VALUES (:lead_id, :channel, :province, :industry, :customer_id, :captured_at, :captured_at)
        ON CONFLICT (lead_id) DO UPDATE SET channel = coalesce(excluded.channel, f.channel),
            province = coalesce(excluded.province, f.province), industry = coalesce(excluded.industry, f.industry),
            customer_id = coalesce(f.customer_id, excluded.customer_id), captured_at = excluded.captured_at,
            last_touch_at = greatest(f.last_touch_at, excluded.last_touch_at)""",
        {
            "lead_id": lead_id,
            "channel": channel,
            "province": province,
            "industry": industry,
            "customer_id": customer_id,
            "captured_at": captured_at,
        },
    )


async def lead_assigned(
    conn: AsyncConnection,
    *,
    tables: Mapping[str, str] = LIVE,
    lead_id: str,
    rep_id: str | None,
    team_id: str | None,
    channel: str | None,
    captured_at: datetime | None,
    assigned_at: datetime,
) -> None:
    """An assignment: counted; the latest assignment names the lead's rep and team."""
    await _run(
        conn,
        f"""
        INSERT INTO {_t(tables, "lead_fact")} AS f (lead_id, channel, captured_at, rep_id, team_id,
            first_assigned_at, assigned_at, last_touch_at, assignments)
        VALUES (:lead_id, :channel, :captured_at, :rep_id, :team_id, :at, :at, :at, 1)
        ON CONFLICT (lead_id) DO UPDATE SET channel = coalesce(f.channel, excluded.channel),
            captured_at = coalesce(f.captured_at, excluded.captured_at),
            rep_id = CASE WHEN f.assigned_at IS NULL OR excluded.assigned_at >= f.assigned_at
                          THEN excluded.rep_id ELSE f.rep_id END,
            team_id = CASE WHEN f.assigned_at IS NULL OR excluded.assigned_at >= f.assigned_at
                           THEN excluded.team_id ELSE f.team_id END,
            first_assigned_at = least(f.first_assigned_at, excluded.first_assigned_at),
            assigned_at = greatest(f.assigned_at, excluded.assigned_at),
            last_touch_at = greatest(f.last_touch_at, excluded.last_touch_at),
            assignments = f.assignments + 1""",
        {
            "lead_id": lead_id,
            "rep_id": rep_id,
            "team_id": team_id,
            "channel": channel,
            "captured_at": captured_at,
            "at": assigned_at,
        },
    )


async def lead_reassigned(
    conn: AsyncConnection, *, tables: Mapping[str, str] = LIVE, lead_id: str, rep_id: str | None, at: datetime
) -> None:
    """A reassignment: counted; it names the rep when it is the latest move of the lead."""
    await _run(
        conn,
        f"""
        INSERT INTO {_t(tables, "lead_fact")} AS f (lead_id, rep_id, assigned_at, last_touch_at, reassignments)
        VALUES (:lead_id, :rep_id, :at, :at, 1)
        ON CONFLICT (lead_id) DO UPDATE SET
            rep_id = CASE WHEN f.assigned_at IS NULL OR excluded.assigned_at >= f.assigned_at
                          THEN excluded.rep_id ELSE f.rep_id END,
            assigned_at = greatest(f.assigned_at, excluded.assigned_at),
            last_touch_at = greatest(f.last_touch_at, excluded.last_touch_at),
            reassignments = f.reassignments + 1""",
        {"lead_id": lead_id, "rep_id": rep_id, "at": at},
    )


async def lead_touched(
    conn: AsyncConnection,
    *,
    tables: Mapping[str, str] = LIVE,
    lead_id: str,
    at: datetime,
    claimed: bool = False,
    first_contact: bool = False,
    pool_return: bool = False,
    claim_lapsed: bool = False,
) -> None:
    """A claim, a contact, a return to the pool or a lapsed claim window: its time and its counter."""
    await _run(
        conn,
        f"""
        INSERT INTO {_t(tables, "lead_fact")} AS f (lead_id, claimed_at, first_contact_at, last_touch_at,
            pool_returns, claim_windows_lapsed)
        VALUES (:lead_id, CASE WHEN :claimed THEN CAST(:at AS timestamptz) END,
            CASE WHEN :first THEN CAST(:at AS timestamptz) END, :at, :pool, :lapsed)
        ON CONFLICT (lead_id) DO UPDATE SET
            claimed_at = least(f.claimed_at, excluded.claimed_at),
            first_contact_at = least(f.first_contact_at, excluded.first_contact_at),
            last_touch_at = greatest(f.last_touch_at, excluded.last_touch_at),
            pool_returns = f.pool_returns + excluded.pool_returns,
            claim_windows_lapsed = f.claim_windows_lapsed + excluded.claim_windows_lapsed""",
        {
            "lead_id": lead_id,
            "at": at,
            "claimed": claimed,
            "first": first_contact,
            "pool": int(pool_return),
            "lapsed": int(claim_lapsed),
        },
    )


async def opportunity_opened(
    conn: AsyncConnection,
    *,
    tables: Mapping[str, str] = LIVE,
    opportunity_id: str,
    lead_id: str | None,
    customer_id: str | None,
    owner_id: str | None,
    stage: str,
    opened_at: datetime,
) -> None:
    """An opened opportunity and its first stage visit."""
    await _run(
        conn,
        f"""
        INSERT INTO {_t(tables, "opportunity_fact")} AS o (opportunity_id, lead_id, customer_id, owner_id, stage,
            opened_at)
        VALUES (:id, :lead_id, :customer_id, :owner_id, :stage, :at)
        ON CONFLICT (opportunity_id) DO UPDATE SET lead_id = excluded.lead_id, customer_id = excluded.customer_id,
            owner_id = coalesce(o.owner_id, excluded.owner_id), stage = coalesce(o.stage, excluded.stage),
            opened_at = excluded.opened_at""",
        {
            "id": opportunity_id,
            "lead_id": lead_id,
            "customer_id": customer_id,
            "owner_id": owner_id,
            "stage": stage,
            "at": opened_at,
        },
    )
    await _enter(conn, tables=tables, opportunity_id=opportunity_id, stage=stage, at=opened_at)


async def _enter(
    conn: AsyncConnection, *, tables: Mapping[str, str], opportunity_id: str, stage: str, at: datetime
) -> None:
    await _run(
        conn,
        f"""
        INSERT INTO {_t(tables, "stage_visit")} AS v (opportunity_id, stage, entered_at) VALUES (:id, :stage, :at)
        ON CONFLICT (opportunity_id, stage) DO UPDATE SET entered_at = least(v.entered_at, excluded.entered_at)""",
        {"id": opportunity_id, "stage": stage, "at": at},
    )


async def stage_changed(
    conn: AsyncConnection,
    *,
    tables: Mapping[str, str] = LIVE,
    opportunity_id: str,
    pipeline: str | None,
    from_stage: str | None,
    to_stage: str,
    status: str,
    owner_id: str | None,
    team_id: str | None,
    at: datetime,
) -> None:
    """A stage move: the stage left and entered; the latest move names the stage, status, owner and team."""
    closed = status in ("won", "lost")
    await _run(
        conn,
        f"""
        INSERT INTO {_t(tables, "opportunity_fact")} AS o (opportunity_id, pipeline, stage, status, owner_id,
            team_id, closed_at)
        VALUES (:id, :pipeline, :stage, :status, :owner_id, :team_id, CASE WHEN :closed THEN CAST(:at AS timestamptz) END)
        ON CONFLICT (opportunity_id) DO UPDATE SET pipeline = coalesce(excluded.pipeline, o.pipeline),
            stage = excluded.stage, status = excluded.status,
            owner_id = coalesce(excluded.owner_id, o.owner_id), team_id = coalesce(excluded.team_id, o.team_id),
            closed_at = excluded.closed_at""",
        {
            "id": opportunity_id,
            "pipeline": pipeline,
            "stage": to_stage,
            "status": status or "open",
            "owner_id": owner_id,
            "team_id": team_id,
            "closed": closed,
            "at": at,
        },
    )
    if from_stage:
        await _run(
            conn,
            f"""
            INSERT INTO {_t(tables, "stage_visit")} AS v (opportunity_id, stage, entered_at, left_at)
            VALUES (:id, :stage, :at, :at)
            ON CONFLICT (opportunity_id, stage) DO UPDATE SET left_at = greatest(v.left_at, excluded.left_at)""",
            {"id": opportunity_id, "stage": from_stage, "at": at},
        )
    await _enter(conn, tables=tables, opportunity_id=opportunity_id, stage=to_stage, at=at)


async def action_completed(
    conn: AsyncConnection,
    *,
    tables: Mapping[str, str] = LIVE,
    opportunity_id: str,
    stage: str,
    action: str,
    at: datetime,
) -> None:
    """A required action done in a stage (the first time counts)."""
    await _run(
        conn,
        f"""
        INSERT INTO {_t(tables, "stage_action")} AS a (opportunity_id, stage, action, completed_at)
        VALUES (:id, :stage, :action, :at)
        ON CONFLICT (opportunity_id, stage, action) DO UPDATE SET completed_at = least(a.completed_at,
            excluded.completed_at)""",
        {"id": opportunity_id, "stage": stage, "action": action, "at": at},
    )


async def handed_over(
    conn: AsyncConnection, *, tables: Mapping[str, str] = LIVE, opportunity_id: str, owner_id: str
) -> None:
    """A handover: the opportunity's new owner."""
    await _run(
        conn,
        f"""
        INSERT INTO {_t(tables, "opportunity_fact")} AS o (opportunity_id, owner_id) VALUES (:id, :owner_id)
        ON CONFLICT (opportunity_id) DO UPDATE SET owner_id = excluded.owner_id""",
        {"id": opportunity_id, "owner_id": owner_id},
    )


async def sub_state_left(
    conn: AsyncConnection,
    *,
    tables: Mapping[str, str] = LIVE,
    opportunity_id: str,
    stage: str,
    sub_state: str,
    seconds: float,
    at: datetime,
) -> None:
    """A stay in a sub-state that ended, and how long it lasted."""
    await _run(
        conn,
        f"""INSERT INTO {_t(tables, "sub_state_dwell")} (opportunity_id, stage, sub_state, left_at, seconds)
        VALUES (:id, :stage, :sub_state, :at, :seconds) ON CONFLICT DO NOTHING""",
        {"id": opportunity_id, "stage": stage, "sub_state": sub_state, "at": at, "seconds": seconds},
    )
