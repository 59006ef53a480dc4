import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DurationStats(_message.Message):
    __slots__ = ("count", "p50_seconds", "p90_seconds")
    COUNT_FIELD_NUMBER: _ClassVar[int]
    P50_SECONDS_FIELD_NUMBER: _ClassVar[int]
    P90_SECONDS_FIELD_NUMBER: _ClassVar[int]
    count: int
    p50_seconds: float
    p90_seconds: float
    def __init__(self, count: _Optional[int] = ..., p50_seconds: _Optional[float] = ..., p90_seconds: _Optional[float] = ...) -> None: ...

class GetLeadResponseReportRequest(_message.Message):
    __slots__ = ("captured_from", "captured_to", "channel")
    CAPTURED_FROM_FIELD_NUMBER: _ClassVar[int]
    CAPTURED_TO_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    captured_from: _timestamp_pb2.Timestamp
    captured_to: _timestamp_pb2.Timestamp
    channel: str
    def __init__(self, captured_from: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., captured_to: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., channel: _Optional[str] = ...) -> None: ...

class GetLeadResponseReportResponse(_message.Message):
    __slots__ = ("leads_captured", "time_to_assignment", "time_to_first_contact", "computed_at")
    LEADS_CAPTURED_FIELD_NUMBER: _ClassVar[int]
    TIME_TO_ASSIGNMENT_FIELD_NUMBER: _ClassVar[int]
    TIME_TO_FIRST_CONTACT_FIELD_NUMBER: _ClassVar[int]
    COMPUTED_AT_FIELD_NUMBER: _ClassVar[int]
    leads_captured: int
    time_to_assignment: DurationStats
    time_to_first_contact: DurationStats
    computed_at: _timestamp_pb2.Timestamp
    def __init__(self, leads_captured: _Optional[int] = ..., time_to_assignment: _Optional[_Union[DurationStats, _Mapping]] = ..., time_to_first_contact: _Optional[_Union[DurationStats, _Mapping]] = ..., computed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
