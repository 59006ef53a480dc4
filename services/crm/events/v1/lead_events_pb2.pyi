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

class LeadReassigned(_message.Message):
    __slots__ = ("lead_id", "from_rep_id", "to_rep_id", "reason", "manager_id", "lead_name", "company", "at")
    LEAD_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_REP_ID_FIELD_NUMBER: _ClassVar[int]
    TO_REP_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    MANAGER_ID_FIELD_NUMBER: _ClassVar[int]
    LEAD_NAME_FIELD_NUMBER: _ClassVar[int]
    COMPANY_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    lead_id: str
    from_rep_id: str
    to_rep_id: str
    reason: str
    manager_id: str
    lead_name: str
    company: str
    at: _timestamp_pb2.Timestamp
    def __init__(self, lead_id: _Optional[str] = ..., from_rep_id: _Optional[str] = ..., to_rep_id: _Optional[str] = ..., reason: _Optional[str] = ..., manager_id: _Optional[str] = ..., lead_name: _Optional[str] = ..., company: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class LeadEscalated(_message.Message):
    __slots__ = ("lead_id", "rep_id", "manager_id", "kind", "reason", "deadline_at", "at")
    LEAD_ID_FIELD_NUMBER: _ClassVar[int]
    REP_ID_FIELD_NUMBER: _ClassVar[int]
    MANAGER_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_AT_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    lead_id: str
    rep_id: str
    manager_id: str
    kind: str
    reason: str
    deadline_at: _timestamp_pb2.Timestamp
    at: _timestamp_pb2.Timestamp
    def __init__(self, lead_id: _Optional[str] = ..., rep_id: _Optional[str] = ..., manager_id: _Optional[str] = ..., kind: _Optional[str] = ..., reason: _Optional[str] = ..., deadline_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class LeadReturnedToPool(_message.Message):
    __slots__ = ("lead_id", "rep_id", "reason", "at")
    LEAD_ID_FIELD_NUMBER: _ClassVar[int]
    REP_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    lead_id: str
    rep_id: str
    reason: str
    at: _timestamp_pb2.Timestamp
    def __init__(self, lead_id: _Optional[str] = ..., rep_id: _Optional[str] = ..., reason: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RepDeactivated(_message.Message):
    __slots__ = ("rep_id", "successor_id", "at", "manager_id")
    REP_ID_FIELD_NUMBER: _ClassVar[int]
    SUCCESSOR_ID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    MANAGER_ID_FIELD_NUMBER: _ClassVar[int]
    rep_id: str
    successor_id: str
    at: _timestamp_pb2.Timestamp
    manager_id: str
    def __init__(self, rep_id: _Optional[str] = ..., successor_id: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., manager_id: _Optional[str] = ...) -> None: ...
