"""Pipelines as data: an admin puts a new version; anyone who works deals reads it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from google.protobuf.json_format import ParseDict

from crm.pipeline.v1 import pipeline_pb2
from crm_common.access import Action, Resource
from gateway.api.deps import PipelineClientDep, permit
from gateway.convert import reply_json
from gateway.core.peers import CALL_DEADLINE_SECONDS
from gateway.core.security import Caller
from gateway.pipeline_schemas import PipelineIn

router = APIRouter(prefix="/v1", tags=["pipelines"])

PipelineReadDep = Annotated[Caller, Depends(permit(Resource.PIPELINE, Action.READ))]
PipelineUpdateDep = Annotated[Caller, Depends(permit(Resource.PIPELINE, Action.UPDATE))]
PipelineKeyDep = Annotated[str, Path(description="The pipeline's key", max_length=64)]


def pipeline_json(message: pipeline_pb2.Pipeline) -> dict[str, Any]:
    """A pipeline version in the shape it is put in (`from`/`to` in skip rules, null for no outcome)."""
    out = reply_json(message, frozenset())
    for stage in out.get("stages", []):
        stage["outcome"] = stage.get("outcome") or None
        for sub in stage.get("sub_states", []):
            if not sub.get("stall_after"):
                sub.pop("stall_after", None)
        for action in stage.get("actions", []):
            evidence = action["evidence"]
            kind = evidence["kind"]
            action["evidence"] = {"kind": kind} | (
                {"min": evidence["min"]} if kind == "contact" else
                {"media_types": evidence["media_types"]} if kind == "file" else
                {"field": evidence["field"]} if kind == "field" else {}
            )
    out["skip_rules"] = [
        {"from": r["from_stage"], "to": r["to_stage"], "when": r.get("when", {})} for r in out.get("skip_rules", [])
    ]
    return out


@router.put("/pipelines/{key}", summary="Put a new version of a pipeline (validated before it goes live)")
async def put_pipeline(key: PipelineKeyDep, body: PipelineIn, _: PipelineUpdateDep, client: PipelineClientDep) -> dict[str, Any]:
    doc = body.model_dump(by_alias=True, exclude={"reason"})
    for stage in doc["stages"]:
        if stage["outcome"] is None:
            stage.pop("outcome")
        for sub in stage["sub_states"]:
            if sub["stall_after"] is None:
                sub.pop("stall_after")
    doc["skip_rules"] = [{"from_stage": r["from"], "to_stage": r["to"], "when": r["when"]} for r in doc["skip_rules"]]
    message = ParseDict(doc | {"key": key}, pipeline_pb2.Pipeline())
    reply = await client.PutPipeline(
        pipeline_pb2.PutPipelineRequest(pipeline=message, reason=body.reason), timeout=CALL_DEADLINE_SECONDS
    )
    return pipeline_json(reply.pipeline)


@router.get("/pipelines/{key}", summary="The live version of a pipeline")
async def get_pipeline(key: PipelineKeyDep, _: PipelineReadDep, client: PipelineClientDep) -> dict[str, Any]:
    reply = await client.GetPipeline(pipeline_pb2.GetPipelineRequest(key=key), timeout=CALL_DEADLINE_SECONDS)
    return pipeline_json(reply.pipeline)

