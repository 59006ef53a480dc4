import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class NotificationDelivered(_message.Message):
    __slots__ = ("notification_id", "lead_id", "recipient_id", "channel", "delivered_at")
    NOTIFICATION_ID_FIELD_NUMBER: _ClassVar[int]
    LEAD_ID_FIELD_NUMBER: _ClassVar[int]
    RECIPIENT_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    DELIVERED_AT_FIELD_NUMBER: _ClassVar[int]
    notification_id: str
    lead_id: str
    recipient_id: str
    channel: str
    delivered_at: _timestamp_pb2.Timestamp
    def __init__(self, notification_id: _Optional[str] = ..., lead_id: _Optional[str] = ..., recipient_id: _Optional[str] = ..., channel: _Optional[str] = ..., delivered_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class NotificationFailed(_message.Message):
    __slots__ = ("notification_id", "lead_id", "recipient_id", "channel", "reason", "failed_at")
    NOTIFICATION_ID_FIELD_NUMBER: _ClassVar[int]
    LEAD_ID_FIELD_NUMBER: _ClassVar[int]
    RECIPIENT_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    FAILED_AT_FIELD_NUMBER: _ClassVar[int]
    notification_id: str
    lead_id: str
    recipient_id: str
    channel: str
    reason: str
    failed_at: _timestamp_pb2.Timestamp
    def __init__(self, notification_id: _Optional[str] = ..., lead_id: _Optional[str] = ..., recipient_id: _Optional[str] = ..., channel: _Optional[str] = ..., reason: _Optional[str] = ..., failed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class NotificationEscalated(_message.Message):
    __slots__ = ("notification_id", "lead_id", "recipient_id", "escalated_to", "reason", "escalation_notification_id", "escalated_at")
    NOTIFICATION_ID_FIELD_NUMBER: _ClassVar[int]
    LEAD_ID_FIELD_NUMBER: _ClassVar[int]
    RECIPIENT_ID_FIELD_NUMBER: _ClassVar[int]
    ESCALATED_TO_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ESCALATION_NOTIFICATION_ID_FIELD_NUMBER: _ClassVar[int]
    ESCALATED_AT_FIELD_NUMBER: _ClassVar[int]
    notification_id: str
    lead_id: str
    recipient_id: str
    escalated_to: str
    reason: str
    escalation_notification_id: str
    escalated_at: _timestamp_pb2.Timestamp
    def __init__(self, notification_id: _Optional[str] = ..., lead_id: _Optional[str] = ..., recipient_id: _Optional[str] = ..., escalated_to: _Optional[str] = ..., reason: _Optional[str] = ..., escalation_notification_id: _Optional[str] = ..., escalated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
