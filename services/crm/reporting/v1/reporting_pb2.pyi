import datetime

from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetReportRequest(_message.Message):
    __slots__ = ("report", "parameters")
    class ParametersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    REPORT_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    report: str
    parameters: _containers.ScalarMap[str, str]
    def __init__(self, report: _Optional[str] = ..., parameters: _Optional[_Mapping[str, str]] = ...) -> None: ...

class GetReportResponse(_message.Message):
    __slots__ = ("as_of", "stale", "body")
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    STALE_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    as_of: _timestamp_pb2.Timestamp
    stale: bool
    body: _struct_pb2.Struct
    def __init__(self, as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., stale: _Optional[bool] = ..., body: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class ExportReportRequest(_message.Message):
    __slots__ = ("report", "parameters", "format", "client", "request_id", "caller_name")
    class ParametersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    REPORT_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    CLIENT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    CALLER_NAME_FIELD_NUMBER: _ClassVar[int]
    report: str
    parameters: _containers.ScalarMap[str, str]
    format: str
    client: str
    request_id: str
    caller_name: str
    def __init__(self, report: _Optional[str] = ..., parameters: _Optional[_Mapping[str, str]] = ..., format: _Optional[str] = ..., client: _Optional[str] = ..., request_id: _Optional[str] = ..., caller_name: _Optional[str] = ...) -> None: ...

class ExportReportResponse(_message.Message):
    __slots__ = ("data",)
    DATA_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    def __init__(self, data: _Optional[bytes] = ...) -> None: ...

class ListExportsRequest(_message.Message):
    __slots__ = ("limit",)
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    limit: int
    def __init__(self, limit: _Optional[int] = ...) -> None: ...

class ExportRecord(_message.Message):
    __slots__ = ("id", "report", "format", "parameters", "subject", "role", "client", "request_id", "rows", "exported_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    REPORT_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    CLIENT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    EXPORTED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    report: str
    format: str
    parameters: _struct_pb2.Struct
    subject: str
    role: str
    client: str
    request_id: str
    rows: int
    exported_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., report: _Optional[str] = ..., format: _Optional[str] = ..., parameters: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., subject: _Optional[str] = ..., role: _Optional[str] = ..., client: _Optional[str] = ..., request_id: _Optional[str] = ..., rows: _Optional[int] = ..., exported_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListExportsResponse(_message.Message):
    __slots__ = ("exports",)
    EXPORTS_FIELD_NUMBER: _ClassVar[int]
    exports: _containers.RepeatedCompositeFieldContainer[ExportRecord]
    def __init__(self, exports: _Optional[_Iterable[_Union[ExportRecord, _Mapping]]] = ...) -> None: ...

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
