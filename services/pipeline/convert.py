"""Rows and timestamps to and from protobuf."""

from __future__ import annotations

from datetime import datetime

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


def opportunity_message(row: Row) -> pipeline_pb2.Opportunity:
    """The Opportunity message of an opportunities row."""
    return pipeline_pb2.Opportunity(
        id=str(row.id),
        lead_id=row.lead_id,
        customer_id=row.customer_id or "",
        owner_id=row.owner_id or "",
        stage=row.stage,
        opened_at=to_timestamp(row.opened_at),
    )
