"""The weighted forecast of a month, by owner or team (amount x stage probability), beside the month's wins."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query

from crm.pipeline.v1 import pipeline_pb2
from crm_common.access import Action, Resource
from gateway.api.deps import PipelineClientDep, permit
from gateway.core.peers import CALL_DEADLINE_SECONDS
from gateway.core.security import Caller

router = APIRouter(prefix="/v1", tags=["forecast"])

ForecastReadDep = Annotated[Caller, Depends(permit(Resource.FORECAST, Action.READ))]


@router.get("/forecast", summary="Open deals expected to close in the month, weighted; and the month's wins")
async def forecast(
    _: ForecastReadDep,
    client: PipelineClientDep,
    month: Annotated[str, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM")],
    group_by: Annotated[Literal["owner", "team"], Query()] = "owner",
) -> dict[str, Any]:
    reply = await client.GetForecast(
        pipeline_pb2.GetForecastRequest(group_by=group_by, month=month), timeout=CALL_DEADLINE_SECONDS
    )
    return {
        "month": reply.month,
        "rows": [
            {
                "group": {"owner_id": r.owner_id} if group_by == "owner" else {"team_id": r.team_id},
                "count": r.count,
                "amount": float(r.amount),
                "weighted_amount": float(r.weighted_amount),
                "won_count": r.won_count,
                "won_amount": float(r.won_amount),
            }
            for r in reply.rows
        ],
    }
