"""Rows, definitions and timestamps to and from protobuf."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy.engine import Row

from crm.pipeline.v1 import pipeline_pb2


def to_timestamp(value: datetime) -> Timestamp:
    """A protobuf Timestamp of an aware datetime."""
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


def from_timestamp(stamp: Timestamp, default: datetime) -> datetime:
    """An aware datetime of a Timestamp field; default when it is unset."""
    if stamp.seconds == 0 and stamp.nanos == 0:
        return default
    return stamp.ToDatetime(tzinfo=default.tzinfo)


def _ts(value: datetime | None) -> Timestamp | None:
    return to_timestamp(value) if value is not None else None


def opportunity_message(
    row: Row,
    *,
    actions: Sequence[pipeline_pb2.ActionState] = (),
    history: Sequence[pipeline_pb2.HistoryEntry] = (),
    pending: Row | None = None,
) -> pipeline_pb2.Opportunity:
    """The Opportunity message of an opportunities row (with what the caller gathered beside it)."""
    return pipeline_pb2.Opportunity(
        id=str(row.id),
        lead_id=row.lead_id or "",
        customer_id=row.customer_id or "",
        owner_id=row.owner_id or "",
        stage=row.stage,
        opened_at=to_timestamp(row.opened_at),
        name=row.name,
        amount="" if row.amount is None else str(row.amount),
        currency=row.currency,
        pipeline=row.pipeline_key,
        pipeline_version=row.pipeline_version,
        sub_state=row.sub_state,
        status=row.status,
        expected_close_date=row.expected_close_date.isoformat() if row.expected_close_date else "",
        version=row.version,
        team_id=row.team_id,
        actions=list(actions),
        history=list(history),
        pending_approval=approval_message(pending) if pending is not None else None,
        stalled=row.stalled,
        block_reason=row.block_reason,
        lost_reason=row.lost_reason,
        next_step_at=_ts(row.next_step_at),
    )


def approval_message(row: Row) -> pipeline_pb2.Approval:
    return pipeline_pb2.Approval(
        id=str(row.id),
        opportunity_id=str(row.opportunity_id),
        kind=row.kind,
        from_stage=row.from_stage,
        to_stage=row.to_stage,
        reason=row.reason,
        requested_by=row.requested_by,
        status=row.status,
        decided_by=row.decided_by,
        decision_reason=row.decision_reason,
        created_at=to_timestamp(row.created_at),
        decided_at=_ts(row.decided_at),
    )


def pipeline_doc(message: pipeline_pb2.Pipeline) -> dict[str, Any]:
    """The JSON document (REST shape) of a Pipeline message, for validation and storage."""
    stages = []
    for s in message.stages:
        stage: dict[str, Any] = {
            "key": s.key,
            "name": s.name,
            "probability": s.probability if s.HasField("probability") else None,
            "sub_states": [
                {"key": u.key, "name": u.name, **({"stall_after": u.stall_after} if u.stall_after else {})}
                for u in s.sub_states
            ],
            "actions": [{"key": a.key, "name": a.name, "evidence": _evidence(a)} for a in s.actions],
            "stall_after": s.stall_after or None,
            "stall_clock": s.stall_clock or None,
            "outcome": s.outcome or None,
        }
        stages.append(stage)
    return {
        "name": message.name,
        "stages": stages,
        "skip_rules": [
            {"from": r.from_stage, "to": r.to_stage, "when": {"repeat_customer": r.when.repeat_customer}}
            for r in message.skip_rules
        ],
        "block_reasons": list(message.block_reasons),
    }


def _evidence(action: pipeline_pb2.RequiredAction) -> dict[str, Any] | None:
    if not action.HasField("evidence"):
        return None
    e = action.evidence
    if e.kind == "contact":
        return {"kind": "contact", "min": e.min or 1}
    if e.kind == "file":
        return {"kind": "file", "media_types": list(e.media_types)}
    if e.kind == "field":
        return {"kind": "field", "field": e.field}
    return {"kind": e.kind}


def pipeline_message(doc: dict[str, Any], row: Row) -> pipeline_pb2.Pipeline:
    """The Pipeline message of a stored version (doc: its definition in the REST shape)."""
    message = pipeline_pb2.Pipeline(
        key=row.key,
        version=row.version,
        name=doc["name"],
        block_reasons=doc["block_reasons"],
        created_by=row.created_by,
        created_at=to_timestamp(row.created_at),
        reason=row.reason,
    )
    for s in doc["stages"]:
        stage = message.stages.add(
            key=s["key"], name=s["name"], probability=s["probability"], stall_after=s["stall_after"],
            stall_clock=s["stall_clock"], outcome=s["outcome"] or "",
        )
        for u in s["sub_states"]:
            stage.sub_states.add(key=u["key"], name=u["name"], stall_after=u.get("stall_after", ""))
        for a in s["actions"]:
            e = a["evidence"]
            stage.actions.add(
                key=a["key"],
                name=a["name"],
                evidence=pipeline_pb2.Evidence(
                    kind=e["kind"], min=e.get("min", 0), media_types=e.get("media_types", []), field=e.get("field", "")
                ),
            )
    for r in doc["skip_rules"]:
        message.skip_rules.add(
            from_stage=r["from"], to_stage=r["to"],
            when=pipeline_pb2.SkipCondition(repeat_customer=bool(r["when"].get("repeat_customer"))),
        )
    return message
