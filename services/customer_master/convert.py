"""Rows to protobuf messages."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy.engine import Row

from crm.customer.v1 import customer_pb2


def to_timestamp(value: datetime) -> Timestamp:
    """A protobuf Timestamp of an aware datetime."""
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


def to_json(value: Any) -> str:
    """Compact JSON keeping Chinese characters readable."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")) if value else ""


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
    )
