import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LeadCaptured(_message.Message):
    __slots__ = ("lead_id", "channel", "customer_id", "captured_at", "province", "industry")
    LEAD_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    CAPTURED_AT_FIELD_NUMBER: _ClassVar[int]
    PROVINCE_FIELD_NUMBER: _ClassVar[int]
    INDUSTRY_FIELD_NUMBER: _ClassVar[int]
    lead_id: str
    channel: str
    customer_id: str
    captured_at: _timestamp_pb2.Timestamp
    province: str
    industry: str
    def __init__(self, lead_id: _Optional[str] = ..., channel: _Optional[str] = ..., customer_id: _Optional[str] = ..., captured_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., province: _Optional[str] = ..., industry: _Optional[str] = ...) -> None: ...

class LeadCustomerResolved(_message.Message):
    __slots__ = ("lead_id", "customer_id", "resolved_at")
    LEAD_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    RESOLVED_AT_FIELD_NUMBER: _ClassVar[int]
    lead_id: str
    customer_id: str
    resolved_at: _timestamp_pb2.Timestamp
    def __init__(self, lead_id: _Optional[str] = ..., customer_id: _Optional[str] = ..., resolved_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class LeadAssigned(_message.Message):
    __slots__ = ("lead_id", "assignee_id", "team_id", "rule_id", "captured_at", "assigned_at", "lead_name", "company", "channel")
    LEAD_ID_FIELD_NUMBER: _ClassVar[int]
    ASSIGNEE_ID_FIELD_NUMBER: _ClassVar[int]
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    RULE_ID_FIELD_NUMBER: _ClassVar[int]
    CAPTURED_AT_FIELD_NUMBER: _ClassVar[int]
    ASSIGNED_AT_FIELD_NUMBER: _ClassVar[int]
    LEAD_NAME_FIELD_NUMBER: _ClassVar[int]
    COMPANY_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    lead_id: str
    assignee_id: str
    team_id: str
    rule_id: str
    captured_at: _timestamp_pb2.Timestamp
    assigned_at: _timestamp_pb2.Timestamp
    lead_name: str
    company: str
    channel: str
    def __init__(self, lead_id: _Optional[str] = ..., assignee_id: _Optional[str] = ..., team_id: _Optional[str] = ..., rule_id: _Optional[str] = ..., captured_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., assigned_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., lead_name: _Optional[str] = ..., company: _Optional[str] = ..., channel: _Optional[str] = ...) -> None: ...

class LeadClaimed(_message.Message):
    __slots__ = ("lead_id", "rep_id", "claimed_at")
    LEAD_ID_FIELD_NUMBER: _ClassVar[int]
    REP_ID_FIELD_NUMBER: _ClassVar[int]
    CLAIMED_AT_FIELD_NUMBER: _ClassVar[int]
    lead_id: str
    rep_id: str
    claimed_at: _timestamp_pb2.Timestamp
    def __init__(self, lead_id: _Optional[str] = ..., rep_id: _Optional[str] = ..., claimed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class LeadContacted(_message.Message):
    __slots__ = ("lead_id", "rep_id", "channel", "first_contact", "customer_id", "captured_at", "contacted_at")
    LEAD_ID_FIELD_NUMBER: _ClassVar[int]
    REP_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    FIRST_CONTACT_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    CAPTURED_AT_FIELD_NUMBER: _ClassVar[int]
    CONTACTED_AT_FIELD_NUMBER: _ClassVar[int]
    lead_id: str
    rep_id: str
    channel: str
    first_contact: bool
    customer_id: str
    captured_at: _timestamp_pb2.Timestamp
    contacted_at: _timestamp_pb2.Timestamp
    def __init__(self, lead_id: _Optional[str] = ..., rep_id: _Optional[str] = ..., channel: _Optional[str] = ..., first_contact: _Optional[bool] = ..., customer_id: _Optional[str] = ..., captured_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., contacted_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
