"""Every report query, over the projections; keyword-only functions on the caller's connection."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from reporting.reports.domain import DIMENSIONS, Visibility

S = "reporting"


def _visible(visibility: Visibility, rep_column: str, team_column: str) -> tuple[str, dict[str, Any]]:
    """The SQL condition and parameters that keep a caller to their own rows."""
    if visibility.rep_id is not None:
        return f"{rep_column} = :vis_rep", {"vis_rep": visibility.rep_id}
    if visibility.team_ids is not None:
        return f"{team_column} = ANY(CAST(:vis_teams AS text[]))", {"vis_teams": list(visibility.team_ids)}
    return "TRUE", {}


async def _all(conn: AsyncConnection, sql: str, params: dict[str, Any]) -> list[Any]:
    return list((await conn.execute(text(sql), params)).mappings())


async def funnel(
    conn: AsyncConnection, *, start: datetime, end: datetime, dimensions: list[str], visibility: Visibility
) -> list[dict[str, Any]]:
    """Leads captured in [start, end) → their opportunities → stages reached → won/lost, per group."""
    cols = [
        f"{(DIMENSIONS[d] and 'l.' + DIMENSIONS[d]) or 'CAST(NULL AS text)'} AS g{i}" for i, d in enumerate(dimensions)
    ]
    groups = [f"g{i}" for i in range(len(dimensions))]
    where, params = _visible(visibility, "l.rep_id", "l.team_id")
    params |= {"start": start, "end": end}
    cohort = f"""WITH cohort AS (SELECT l.lead_id{"".join(", " + c for c in cols)} FROM {S}.lead_fact l
        WHERE l.captured_at >= :start AND l.captured_at < :end AND {where}),
        opps AS (SELECT o.opportunity_id, o.status, c.* FROM {S}.opportunity_fact o JOIN cohort c USING (lead_id))"""
    picked = "".join(f"c.{g}, " for g in groups)
    totals = await _all(
        conn,
        f"""{cohort}
        SELECT {picked} count(DISTINCT c.lead_id) AS leads, count(o.opportunity_id) AS opportunities,
            count(*) FILTER (WHERE o.status = 'won') AS won, count(*) FILTER (WHERE o.status = 'lost') AS lost
        FROM cohort c LEFT JOIN opps o USING (lead_id)
        {"GROUP BY " + ", ".join("c." + g for g in groups) if groups else ""}""",
        params,
    )
    stages = await _all(
        conn,
        f"""{cohort}
        SELECT {"".join(g + ", " for g in groups)} v.stage, count(*) AS n FROM opps JOIN {S}.stage_visit v
        USING (opportunity_id) GROUP BY {"".join(g + ", " for g in groups)} v.stage""",
        params,
    )
    reached: dict[tuple[Any, ...], dict[str, int]] = {}
    for row in stages:
        reached.setdefault(tuple(row[g] for g in groups), {})[row["stage"]] = int(row["n"])
    rows = []
    for row in totals:
        key = tuple(row[g] for g in groups)
        rows.append(
            {
                "group": dict(zip(dimensions, key, strict=True)),
                "leads": int(row["leads"]),
                "opportunities": int(row["opportunities"]),
                "stages": reached.get(key, {}),
                "won": int(row["won"]),
                "lost": int(row["lost"]),
            }
        )
    return sorted(rows, key=lambda r: [str(v) for v in r["group"].values()])


_CELLS = """WITH opps AS (SELECT opportunity_id, owner_id, team_id FROM {S}.opportunity_fact o
        WHERE (:pipeline = '' OR o.pipeline = :pipeline) AND {where}),
    -- The actions a stage requires: those done in it by any opportunity of the pipeline (whoever may see them);
    -- the events do not carry the pipeline definition's list.
    required AS (SELECT DISTINCT a.stage, a.action FROM {S}.stage_action a JOIN {S}.opportunity_fact p
        USING (opportunity_id) WHERE :pipeline = '' OR p.pipeline = :pipeline),
    cells AS (SELECT r.stage, r.action, v.opportunity_id, o.owner_id, o.team_id, v.entered_at, v.left_at,
        EXISTS (SELECT 1 FROM {S}.stage_action a WHERE a.opportunity_id = v.opportunity_id AND a.stage = v.stage
                AND a.action = r.action AND (v.left_at IS NULL OR a.completed_at <= v.left_at)) AS done
        FROM required r JOIN {S}.stage_visit v ON v.stage = r.stage JOIN opps o ON o.opportunity_id = v.opportunity_id)"""


async def stage_actions(conn: AsyncConnection, *, pipeline: str, visibility: Visibility) -> list[dict[str, Any]]:
    """Per stage and required action: opportunities that are or were in the stage, and how many lack it."""
    where, params = _visible(visibility, "o.owner_id", "o.team_id")
    rows = await _all(
        conn,
        _CELLS.format(S=S, where=where)
        + """
        SELECT stage, action, count(*) AS opportunities, count(*) FILTER (WHERE NOT done) AS missing
        FROM cells GROUP BY stage, action ORDER BY stage, action""",
        params | {"pipeline": pipeline},
    )
    return [
        {
            "stage": r["stage"],
            "action": r["action"],
            "opportunities": int(r["opportunities"]),
            "missing": int(r["missing"]),
            "missing_rate": round(r["missing"] / r["opportunities"], 6),
        }
        for r in rows
    ]


async def stream_stage_action_opportunities(
    conn: AsyncConnection, *, pipeline: str, stage: str, action: str, visibility: Visibility
) -> AsyncIterator[dict[str, Any]]:
    """The opportunities behind one cell's `missing`, read through a server-side cursor (any number of them)."""
    where, params = _visible(visibility, "o.owner_id", "o.team_id")
    result = await conn.stream(
        text(
            _CELLS.format(S=S, where=where)
            + """
        SELECT opportunity_id, owner_id, team_id, entered_at, left_at FROM cells
        WHERE stage = :stage AND action = :action AND NOT done ORDER BY entered_at, opportunity_id"""
        ),
        params | {"pipeline": pipeline, "stage": stage, "action": action},
    )
    async for r in result.mappings():
        yield {
            "opportunity_id": r["opportunity_id"],
            "owner_id": r["owner_id"],
            "team_id": r["team_id"],
            "entered_at": r["entered_at"].isoformat(),
            "left_at": r["left_at"].isoformat() if r["left_at"] else None,
        }


async def stage_action_opportunities(
    conn: AsyncConnection, *, pipeline: str, stage: str, action: str, visibility: Visibility
) -> list[dict[str, Any]]:
    """The opportunities behind one cell's `missing`: in the stage, the action not done (by when they left)."""
    return [
        row
        async for row in stream_stage_action_opportunities(
            conn, pipeline=pipeline, stage=stage, action=action, visibility=visibility
        )
    ]


async def assignment_health(
    conn: AsyncConnection, *, start: datetime, end: datetime, now: datetime, visibility: Visibility
) -> dict[str, Any]:
    """Assignment figures of the leads captured in [start, end)."""
    where, params = _visible(visibility, "rep_id", "team_id")
    [row] = await _all(
        conn,
        f"""
        WITH day AS (SELECT *, extract(epoch FROM first_assigned_at - captured_at) AS tta FROM {S}.lead_fact
                     WHERE captured_at >= :start AND captured_at < :end AND {where})
        SELECT count(*) AS captured, count(first_assigned_at) AS assigned,
            percentile_cont(ARRAY[0.5, 0.9, 0.99]) WITHIN GROUP (ORDER BY tta) AS tta,
            coalesce(sum(claim_windows_lapsed), 0) AS lapsed,
            count(*) FILTER (WHERE first_assigned_at IS NOT NULL
                             AND coalesce(claimed_at, :now) - first_assigned_at > interval '2 hours') AS unclaimed,
            coalesce(sum(pool_returns), 0) AS pool_returns, coalesce(sum(reassignments), 0) AS reassignments,
            count(*) FILTER (WHERE assignments > 1 + pool_returns) AS doubles
        FROM day""",
        params | {"start": start, "end": end, "now": now},
    )
    p50, p90, p99 = row["tta"] or (None, None, None)
    return {
        "captured": int(row["captured"]),
        "assigned": int(row["assigned"]),
        "time_to_assignment": {"p50": p50, "p90": p90, "p99": p99},
        "claim_windows_lapsed": int(row["lapsed"]),
        "unclaimed_over_2h": int(row["unclaimed"]),
        "pool_returns": int(row["pool_returns"]),
        "reassignments": int(row["reassignments"]),
        # No event says the lead's or the rep's region: not measurable from the events yet.
        "cross_region": None,
        "double_assignments": int(row["doubles"]),
    }


REQUIRED_FIELDS = ("channel", "province", "industry", "customer_id")


async def completeness(
    conn: AsyncConnection, *, start: datetime, end: datetime, visibility: Visibility
) -> tuple[int, dict[str, float | None]]:
    """Leads captured in [start, end) and the share of them with each required field."""
    where, params = _visible(visibility, "rep_id", "team_id")
    [row] = await _all(
        conn,
        f"""SELECT count(*) AS n, {", ".join(f"count({f}) AS {f}" for f in REQUIRED_FIELDS)}
        FROM {S}.lead_fact WHERE captured_at >= :start AND captured_at < :end AND {where}""",
        params | {"start": start, "end": end},
    )
    n = int(row["n"])
    return n, {f: (round(row[f] / n, 6) if n else None) for f in REQUIRED_FIELDS}


async def untouched(conn: AsyncConnection, *, before: datetime, visibility: Visibility) -> int:
    """Leads with no touch since `before` and no opportunity."""
    where, params = _visible(visibility, "l.rep_id", "l.team_id")
    return int(
        (
            await conn.execute(
                text(f"""SELECT count(*) FROM {S}.lead_fact l WHERE l.last_touch_at < :before
        AND {where} AND NOT EXISTS (SELECT 1 FROM {S}.opportunity_fact o WHERE o.lead_id = l.lead_id)"""),
                params | {"before": before},
            )
        ).scalar_one()
    )


async def kpi(conn: AsyncConnection, *, today: datetime, month: datetime, visibility: Visibility) -> dict[str, Any]:
    """New leads today, and the share of this month's leads that became opportunities."""
    where, params = _visible(visibility, "l.rep_id", "l.team_id")
    [row] = await _all(
        conn,
        f"""SELECT count(*) FILTER (WHERE l.captured_at >= :today) AS today,
        count(*) AS month, count(*) FILTER (WHERE EXISTS (SELECT 1 FROM {S}.opportunity_fact o
            WHERE o.lead_id = l.lead_id)) AS converted
        FROM {S}.lead_fact l WHERE l.captured_at >= :month AND {where}""",
        params | {"today": today, "month": month},
    )
    month_leads = int(row["month"])
    return {
        "new_leads_today": int(row["today"]),
        "opportunity_conversion_rate": round(row["converted"] / month_leads, 6) if month_leads else None,
        # No finance system feeds receivables into the events yet.
        "receivables_attainment": None,
    }


async def sub_state_dwell(
    conn: AsyncConnection, *, pipeline: str, start: datetime, end: datetime, visibility: Visibility
) -> list[dict[str, Any]]:
    """Per stage and sub-state: stays that ended in [start, end), p50 and p90 of their length in hours."""
    where, params = _visible(visibility, "o.owner_id", "o.team_id")
    rows = await _all(
        conn,
        f"""SELECT d.stage, d.sub_state, count(*) AS stays,
            percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY d.seconds / 3600.0) AS hours
        FROM {S}.sub_state_dwell d JOIN {S}.opportunity_fact o USING (opportunity_id)
        WHERE d.left_at >= :start AND d.left_at < :end AND (:pipeline = '' OR o.pipeline = :pipeline) AND {where}
        GROUP BY d.stage, d.sub_state ORDER BY d.stage, d.sub_state""",
        params | {"pipeline": pipeline, "start": start, "end": end},
    )
    return [
        {
            "stage": r["stage"],
            "sub_state": r["sub_state"],
            "stays": int(r["stays"]),
            "p50_hours": round(r["hours"][0], 4),
            "p90_hours": round(r["hours"][1], 4),
        }
        for r in rows
    ]
