"""A rep leaves: deactivated, and every open lead handed to a successor or routed again by the rules."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row

from crm.events.v1 import lead_events_pb2
from crm_common.errors import FieldViolation, InvalidArgument, NotFound
from crm_common.service import Runtime
from lead import records
from lead.ownership import repository as ownership_repo
from lead.ownership.use_cases import hand_to
from lead.routing.assignment import load_rules, route_lead
from lead.staff import repository as repo
from lead.timestamps import ts


async def deactivate(runtime: Runtime, rep_id: str, successor_id: str | None) -> tuple[Row[Any], int]:
    """Deactivate a rep and move every open lead: to the successor, or by the rules. Returns (rep, moved)."""
    now = datetime.now(UTC)
    async with runtime.db.transaction() as conn:
        successor = None
        if successor_id:
            successor = await repo.get_rep(conn, rep_id=successor_id)
            if successor is None or not successor.active or successor.id == rep_id:
                raise InvalidArgument([FieldViolation("successor_rep_id", "must name another, active rep")])
        current = await repo.get_rep(conn, rep_id=rep_id)
        if current is None:
            raise NotFound(f"rep {rep_id} not found")
        # Lock order everywhere: lead rows, then team locks (sorted), then rep rows. Holding every team a lead
        # could be routed to means no capture assigns to this rep between the update and the listing below.
        await ownership_repo.open_leads_of(conn, rep_id=rep_id)
        _, rules = await load_rules(conn, runtime.settings.database_url)
        teams_touched = {current.team_id, *([successor.team_id] if successor else [])}
        teams_touched |= {t for r in rules for t in (r.team_id, r.overflow_team_id) if t}
        await records.lock_keys(conn, keys=[f"lead-team:{t}" for t in teams_touched])
        rep = await repo.set_rep_active(conn, rep_id=rep_id, active=False)
        assert rep is not None
        open_leads = await ownership_repo.open_leads_of(conn, rep_id=rep_id)
        for row in open_leads:
            if successor is not None:
                await hand_to(
                    runtime,
                    conn,
                    row,
                    successor,
                    now,
                    trigger="handover",
                    rule_id=row.rule_id,
                    from_rep=rep_id,
                    reason="handover",
                )
            else:
                await route_lead(
                    runtime,
                    conn,
                    row,
                    now,
                    trigger="rep_deactivated",
                    excluded=frozenset({rep_id}),
                    from_rep=rep_id,
                    pool_when_unplaced=True,
                )
        # The customer master hands the rep's accounts over; staged here so the departure and its event commit together.
        team = await repo.get_team(conn, team_id=current.team_id)
        await runtime.stage(
            conn,
            "crm.lead.rep_deactivated",
            lead_events_pb2.RepDeactivated(
                rep_id=rep_id,
                successor_id=successor.id if successor is not None else "",
                at=ts(now),
                manager_id=(team.manager_id or "") if team is not None else "",
            ),
        )
    return rep, len(open_leads)
