"""The weighted forecast of a month: open deals expected to close in it (amount x stage probability), and wins."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from crm.pipeline.v1 import pipeline_pb2
from crm_common.access import Action, Resource, Scope, effective, scope_of
from crm_common.errors import FieldViolation, InvalidArgument
from crm_common.identity import Principal
from pipeline.definitions import repository as definitions
from pipeline.tables import opportunities

MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
CENT = Decimal("0.01")


def month_bounds(month: str) -> tuple[date, date]:
    """[first day, first day of the next month) of YYYY-MM."""
    found = MONTH.match(month or "")
    if found is None:
        raise InvalidArgument([FieldViolation("month", "must be YYYY-MM")])
    year, number = int(found.group(1)), int(found.group(2))
    if not (year >= 1 and (year, number) < (9999, 12)):  # a month whose bounds are both dates
        raise InvalidArgument([FieldViolation("month", "must lie between 0001-01 and 9999-11")])
    return date(year, number, 1), date(year + number // 12, number % 12 + 1, 1)


async def rows(
    conn: AsyncConnection, *, group_by: str, month: str, principal: Principal
) -> list[pipeline_pb2.ForecastRow]:
    """One row per owner or team; a rep sees its own row, a manager its teams' rows."""
    if group_by not in ("owner", "team"):
        raise InvalidArgument([FieldViolation("group_by", "must be owner or team")])
    start, end = month_bounds(month)
    query = select(
        opportunities.c.owner_id, opportunities.c.team_id, opportunities.c.amount, opportunities.c.stage,
        opportunities.c.status, opportunities.c.pipeline_key, opportunities.c.pipeline_version,
        opportunities.c.expected_close_date, opportunities.c.closed_at,
    ).where(
        or_(
            and_(
                opportunities.c.status == "open",
                opportunities.c.expected_close_date >= start,
                opportunities.c.expected_close_date < end,
            ),
            and_(opportunities.c.status == "won", opportunities.c.closed_at >= start, opportunities.c.closed_at < end),
        )
    )
    who = effective(principal)
    scope = scope_of(principal, Resource.FORECAST, Action.READ)
    if scope is Scope.OWN:
        query = query.where(opportunities.c.owner_id == (who.rep_id or ""))
    elif scope is Scope.TEAM:
        query = query.where(opportunities.c.team_id.in_(list(who.team_ids)))
    groups: dict[str, dict[str, Decimal | int]] = {}
    for r in (await conn.execute(query)).all():
        key = (r.owner_id or "") if group_by == "owner" else r.team_id
        g = groups.setdefault(key, {"count": 0, "amount": Decimal(0), "weighted": Decimal(0), "won": Decimal(0), "won_count": 0})
        amount = r.amount or Decimal(0)
        if r.status == "open":
            pipeline = await definitions.load(conn, key=r.pipeline_key, version=r.pipeline_version)
            stage = pipeline.stage(r.stage)
            g["count"] += 1
            g["amount"] += amount
            g["weighted"] += amount * Decimal(str(stage.probability if stage else 0))
        else:
            g["won"] += amount
            g["won_count"] += 1
    return [
        pipeline_pb2.ForecastRow(
            owner_id=key if group_by == "owner" else "",
            team_id=key if group_by == "team" else "",
            count=int(g["count"]),
            amount=str(Decimal(g["amount"]).quantize(CENT)),
            weighted_amount=str(Decimal(g["weighted"]).quantize(CENT)),
            won_amount=str(Decimal(g["won"]).quantize(CENT)),
            won_count=int(g["won_count"]),
        )
        for key, g in sorted(groups.items())
    ]
