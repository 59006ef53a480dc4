"""Rows to protobuf messages."""

from __future__ import annotations

from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy.engine import Row

from crm.customer.v1 import customer_pb2


def to_timestamp(value: datetime) -> Timestamp:
    """A protobuf Timestamp of an aware datetime."""
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


def customer_message(row: Row) -> customer_pb2.Customer:
    """The Customer message of a customers row."""
    return customer_pb2.Customer(
        id=str(row.id),
        name=row.name,
        company=row.company or "",
        phone=row.phone_e164 or "",
        email=row.email_normalized or "",
        created_at=to_timestamp(row.created_at),
    )
