"""Rows to protobuf messages."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy.engine import Row

from crm.customer.v1 import customer_pb2
from crm_common.errors import FieldViolation, InvalidArgument


def to_timestamp(value: datetime) -> Timestamp:
    """A protobuf Timestamp of an aware datetime."""
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


def to_json(value: Any) -> str:
    """Compact JSON keeping Chinese characters readable."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")) if value else ""


def rules_from_json(text: str, field: str = "rules_json") -> dict[str, Any]:
    """A rules document sent as JSON text: an object, or INVALID_ARGUMENT naming the field."""
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise InvalidArgument([FieldViolation(field, "must be a JSON object")])
    return data


def customer_message(row: Row) -> customer_pb2.Customer:
    """The Customer message of a customers row."""
    return customer_pb2.Customer(
        id=str(row.id),
        name=row.name,
        company=row.company or "",
        phone=row.phone_e164 or "",
        email=row.email_normalized or "",
        created_at=to_timestamp(row.created_at),
        credit_code=row.credit_code or "",
        steward_id=row.steward_id or "",
        first_cooperation_date=row.first_cooperation_date.isoformat() if row.first_cooperation_date else "",
        merged_into=str(row.merged_into) if row.merged_into else "",
        steward_needed=bool(getattr(row, "steward_needed", False)),
    )


def review_message(row: Row) -> customer_pb2.Review:
    """The Review message of a match_reviews row."""
    return customer_pb2.Review(
        id=str(row.id),
        customer_id=str(row.customer_id),
        candidate_id=str(row.candidate_id),
        score=row.score,
        explanation=to_json(row.explanation),
        status=row.status,
        created_at=to_timestamp(row.created_at),
    )


def change_message(row: Row) -> customer_pb2.Change:
    """The Change message of a customer_changes row."""
    return customer_pb2.Change(
        field=row.field,
        old_value=row.old_value or "",
        new_value=row.new_value or "",
        actor_id=row.actor_id,
        actor_role=row.actor_role,
        reason=row.reason,
        at=to_timestamp(row.at),
        change_request_id=str(row.change_request_id) if row.change_request_id else "",
    )


def change_request_message(row: Row) -> customer_pb2.ChangeRequest:
    """The ChangeRequest message of a change_requests row."""
    return customer_pb2.ChangeRequest(
        id=str(row.id),
        customer_id=str(row.customer_id),
        field=row.field,
        value=row.value,
        old_value=row.old_value or "",
        actor_id=row.actor_id,
        reason=row.reason,
        status=row.status,
        created_at=to_timestamp(row.created_at),
        decided_by=row.decided_by or "",
        decided_role=row.decided_role or "",
        decision_reason=row.decision_reason or "",
        decided_at=to_timestamp(row.decided_at) if row.decided_at else None,
    )


def dedup_job_message(row: Row) -> customer_pb2.DedupJob:
    """The DedupJob message of a dedup_jobs row."""
    return customer_pb2.DedupJob(
        id=str(row.id),
        scope=row.scope,
        status=row.status,
        send_to_review=row.send_to_review,
        requested_by=row.requested_by,
        records_total=row.records_total,
        records_loaded=row.records_loaded,
        candidate_pairs=row.candidate_pairs,
        pairs_scored=row.pairs_scored,
        clusters_found=row.clusters_found,
        reviews_queued=row.reviews_queued,
        error=row.error,
        attempts=row.attempts,
        created_at=to_timestamp(row.created_at),
        started_at=to_timestamp(row.started_at) if row.started_at else None,
        finished_at=to_timestamp(row.finished_at) if row.finished_at else None,
    )


def dedup_cluster_message(row: Row) -> customer_pb2.DedupCluster:
    """The DedupCluster message of a dedup_clusters row (members and pairs are stored as JSON)."""
    return customer_pb2.DedupCluster(
        number=row.number,
        decision=row.decision,
        score=row.score,
        members=[customer_pb2.DedupMember(**member) for member in row.members],
        pairs=[
            customer_pb2.DedupPair(
                a=pair["a"],
                b=pair["b"],
                score=pair["score"],
                decision=pair["decision"],
                explanation=to_json(pair["explanation"]),
                review_id=pair["review_id"],
            )
            for pair in row.pairs
        ],
    )
