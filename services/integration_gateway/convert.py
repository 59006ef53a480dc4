"""Conversions between rows and protobuf shared by the capabilities."""

from __future__ import annotations

from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp


def ts(at: datetime | None) -> Timestamp | None:
    """A protobuf Timestamp of a time (None stays unset)."""
    if at is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(at)
    return stamp
