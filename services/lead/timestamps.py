"""Protobuf timestamps from datetimes."""

from __future__ import annotations

from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp


def ts(value: datetime | None) -> Timestamp | None:
    """A protobuf Timestamp (None stays None)."""
    if value is None:
        return None
    out = Timestamp()
    out.FromDatetime(value)
    return out
