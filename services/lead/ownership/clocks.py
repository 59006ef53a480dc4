"""One clock per lead drives claim, first-contact SLA, escalation and return to the pool; plus the waiting gauges."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from crm.events.v1 import lead_events_pb2
from crm_common.metrics import LEAD_OLDEST_WAITING, LEAD_REROUTES, LEAD_SLA_BREACHES, LEADS_WAITING
from crm_common.service import Runtime
from lead import records
from lead.ownership import repository as repo
from lead.routing.assignment import REROUTE_REASONS, manager_of, route_lead, to_pool
from lead.timestamps import ts

log = logging.getLogger(__name__)


def pool_times(runtime: Runtime, last_activity: datetime) -> tuple[datetime, datetime]:
    """(when the rep is warned, when the lead returns to the pool) after the last follow-up."""
    settings = runtime.settings
    returns = last_activity + timedelta(days=settings.pool_after_days)
    return returns - timedelta(days=settings.pool_warning_days), returns


def first_contact_deadline(runtime: Runtime, start: datetime) -> datetime:
    """When the first contact is due: a wall-clock SLA from capture, or from a claim out of the pool."""
    return start + timedelta(hours=runtime.settings.first_contact_sla_hours)


async def start_pool_clock(runtime: Runtime, conn: AsyncConnection, lead_id: str, last_activity: datetime) -> None:
    warn_at, return_at = pool_times(runtime, last_activity)
    await repo.set_clock(
        conn,
        lead_id=lead_id,
        kind="pool_warning",
        due=warn_at,
        pool_return_at=return_at,
        last_activity_at=last_activity,
    )


async def escalate(
    runtime: Runtime, conn: AsyncConnection, row: Row[Any], kind: str, reason: str, deadline: datetime, now: datetime
) -> None:
    manager_id = await manager_of(conn, row.assignee_id)
    await records.add_timeline(conn, lead_id=row.id, step="escalated", at=now, detail=f"{kind}: {reason}")
    await runtime.stage(
        conn,
        "crm.lead.escalated",
        lead_events_pb2.LeadEscalated(
            lead_id=row.id,
            rep_id=row.assignee_id or "",
            manager_id=manager_id,
            kind=kind,
            reason=reason,
            deadline_at=ts(deadline),
            at=ts(now),
        ),
    )


async def advance(runtime: Runtime, conn: AsyncConnection, row: Row[Any], now: datetime) -> None:
    """Act on one lead whose clock ran out, and point the clock at what comes next."""
    kind = row.clock_kind
    if kind == "claim":
        LEAD_SLA_BREACHES.labels("claim").inc()
        await escalate(runtime, conn, row, "claim_window", "not claimed within the claim window", row.clock_due_at, now)
        lapsed = [*(row.lapsed_rep_ids or []), row.assignee_id]
        await repo.set_lapsed(conn, lead_id=row.id, lapsed=lapsed)
        fresh = await records.get_lead(conn, lead_id=row.id)
        assert fresh is not None
        await route_lead(
            runtime,
            conn,
            fresh,
            now,
            trigger="claim_expired",
            excluded=frozenset(lapsed),
            from_rep=row.assignee_id,
            pool_when_unplaced=True,
        )
    elif kind == "first_contact":
        LEAD_SLA_BREACHES.labels("first_contact").inc()
        await escalate(
            runtime, conn, row, "first_contact_sla", "no first contact within the SLA", row.clock_due_at, now
        )
        await start_pool_clock(runtime, conn, row.id, row.last_activity_at or now)
    elif kind == "pool_warning":
        await escalate(
            runtime, conn, row, "pool_warning", "no follow-up: the lead returns to the pool", row.pool_return_at, now
        )
        await repo.set_clock(conn, lead_id=row.id, kind="pool_return", due=row.pool_return_at)
    elif kind == "pool_return":
        until = now + timedelta(days=runtime.settings.pool_cooldown_days)
        await repo.set_cooldown(conn, lead_id=row.id, rep_id=row.assignee_id, until=until)
        await to_pool(runtime, conn, row, now, reason="no_follow_up", from_rep=row.assignee_id)
    else:
        await repo.set_clock(conn, lead_id=row.id, kind=None, due=None)


async def run_clocks_once(runtime: Runtime, *, now: datetime, limit: int = 100) -> int:
    """Advance every lead whose clock ran out by `now`; returns how many. Safe on many replicas at once."""
    done = 0
    for _ in range(1000):  # a lead several steps behind (service down for days) catches up step by step
        async with runtime.db.transaction() as conn:
            rows = await repo.leads_due(conn, now=now, limit=limit)
            for row in rows:
                await advance(runtime, conn, row, now)
        done += len(rows)
        if not rows:
            break
    return done


async def refresh_gauges(runtime: Runtime, now: datetime) -> None:
    async with runtime.db.connect() as conn:
        for state, count, since in await repo.waiting_stats(conn):
            LEADS_WAITING.labels(state).set(count)
            LEAD_OLDEST_WAITING.labels(state).set((now - since).total_seconds() if since else 0)


async def run_clocks(runtime: Runtime) -> None:
    """Background task: lead clocks and the waiting gauges, every clock_interval_seconds."""
    for reason in REROUTE_REASONS:  # every series exists from the start, so rate() and alerts see zeros
        LEAD_REROUTES.labels(reason)
    for kind in ("claim", "first_contact"):
        LEAD_SLA_BREACHES.labels(kind)
    while True:
        await asyncio.sleep(runtime.settings.clock_interval_seconds)
        now = datetime.now(UTC)
        try:
            await run_clocks_once(runtime, now=now)
            await refresh_gauges(runtime, now)
        except Exception as err:
            log.warning("lead clocks failed, will retry: %s", err)
