import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class OpportunityOpened(_message.Message):
    __slots__ = ("opportunity_id", "lead_id", "customer_id", "owner_id", "stage", "opened_at")
    OPPORTUNITY_ID_FIELD_NUMBER: _ClassVar[int]
    LEAD_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    OWNER_ID_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    OPENED_AT_FIELD_NUMBER: _ClassVar[int]
    opportunity_id: str
    lead_id: str
    customer_id: str
    owner_id: str
    stage: str
    opened_at: _timestamp_pb2.Timestamp
    def __init__(self, opportunity_id: _Optional[str] = ..., lead_id: _Optional[str] = ..., customer_id: _Optional[str] = ..., owner_id: _Optional[str] = ..., stage: _Optional[str] = ..., opened_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
