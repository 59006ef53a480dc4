import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
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

class StageChanged(_message.Message):
    __slots__ = ("opportunity_id", "pipeline", "pipeline_version", "from_stage", "to_stage", "by", "approved_by", "override", "reason", "status", "seconds_in_stage", "owner_id", "team_id", "at", "approval_kind")
    OPPORTUNITY_ID_FIELD_NUMBER: _ClassVar[int]
    PIPELINE_FIELD_NUMBER: _ClassVar[int]
    PIPELINE_VERSION_FIELD_NUMBER: _ClassVar[int]
    FROM_STAGE_FIELD_NUMBER: _ClassVar[int]
    TO_STAGE_FIELD_NUMBER: _ClassVar[int]
    BY_FIELD_NUMBER: _ClassVar[int]
    APPROVED_BY_FIELD_NUMBER: _ClassVar[int]
    OVERRIDE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    SECONDS_IN_STAGE_FIELD_NUMBER: _ClassVar[int]
    OWNER_ID_FIELD_NUMBER: _ClassVar[int]
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_KIND_FIELD_NUMBER: _ClassVar[int]
    opportunity_id: str
    pipeline: str
    pipeline_version: int
    from_stage: str
    to_stage: str
    by: str
    approved_by: str
    override: bool
    reason: str
    status: str
    seconds_in_stage: float
    owner_id: str
    team_id: str
    at: _timestamp_pb2.Timestamp
    approval_kind: str
    def __init__(self, opportunity_id: _Optional[str] = ..., pipeline: _Optional[str] = ..., pipeline_version: _Optional[int] = ..., from_stage: _Optional[str] = ..., to_stage: _Optional[str] = ..., by: _Optional[str] = ..., approved_by: _Optional[str] = ..., override: _Optional[bool] = ..., reason: _Optional[str] = ..., status: _Optional[str] = ..., seconds_in_stage: _Optional[float] = ..., owner_id: _Optional[str] = ..., team_id: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., approval_kind: _Optional[str] = ...) -> None: ...

class ActionCompleted(_message.Message):
    __slots__ = ("opportunity_id", "stage", "action", "evidence_kind", "by", "at")
    OPPORTUNITY_ID_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_KIND_FIELD_NUMBER: _ClassVar[int]
    BY_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    opportunity_id: str
    stage: str
    action: str
    evidence_kind: str
    by: str
    at: _timestamp_pb2.Timestamp
    def __init__(self, opportunity_id: _Optional[str] = ..., stage: _Optional[str] = ..., action: _Optional[str] = ..., evidence_kind: _Optional[str] = ..., by: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SubStateChanged(_message.Message):
    __slots__ = ("opportunity_id", "stage", "from_sub_state", "to_sub_state", "seconds_in_sub_state", "by", "at")
    OPPORTUNITY_ID_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    FROM_SUB_STATE_FIELD_NUMBER: _ClassVar[int]
    TO_SUB_STATE_FIELD_NUMBER: _ClassVar[int]
    SECONDS_IN_SUB_STATE_FIELD_NUMBER: _ClassVar[int]
    BY_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    opportunity_id: str
    stage: str
    from_sub_state: str
    to_sub_state: str
    seconds_in_sub_state: float
    by: str
    at: _timestamp_pb2.Timestamp
    def __init__(self, opportunity_id: _Optional[str] = ..., stage: _Optional[str] = ..., from_sub_state: _Optional[str] = ..., to_sub_state: _Optional[str] = ..., seconds_in_sub_state: _Optional[float] = ..., by: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ApprovalRequested(_message.Message):
    __slots__ = ("approval_id", "opportunity_id", "kind", "from_stage", "to_stage", "requested_by", "owner_id", "team_id", "approver_role", "reason", "at")
    APPROVAL_ID_FIELD_NUMBER: _ClassVar[int]
    OPPORTUNITY_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    FROM_STAGE_FIELD_NUMBER: _ClassVar[int]
    TO_STAGE_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_BY_FIELD_NUMBER: _ClassVar[int]
    OWNER_ID_FIELD_NUMBER: _ClassVar[int]
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    APPROVER_ROLE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    approval_id: str
    opportunity_id: str
    kind: str
    from_stage: str
    to_stage: str
    requested_by: str
    owner_id: str
    team_id: str
    approver_role: str
    reason: str
    at: _timestamp_pb2.Timestamp
    def __init__(self, approval_id: _Optional[str] = ..., opportunity_id: _Optional[str] = ..., kind: _Optional[str] = ..., from_stage: _Optional[str] = ..., to_stage: _Optional[str] = ..., requested_by: _Optional[str] = ..., owner_id: _Optional[str] = ..., team_id: _Optional[str] = ..., approver_role: _Optional[str] = ..., reason: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ApprovalDecided(_message.Message):
    __slots__ = ("approval_id", "opportunity_id", "kind", "approved", "decided_by", "reason", "requested_by", "at")
    APPROVAL_ID_FIELD_NUMBER: _ClassVar[int]
    OPPORTUNITY_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    APPROVED_FIELD_NUMBER: _ClassVar[int]
    DECIDED_BY_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_BY_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    approval_id: str
    opportunity_id: str
    kind: str
    approved: bool
    decided_by: str
    reason: str
    requested_by: str
    at: _timestamp_pb2.Timestamp
    def __init__(self, approval_id: _Optional[str] = ..., opportunity_id: _Optional[str] = ..., kind: _Optional[str] = ..., approved: _Optional[bool] = ..., decided_by: _Optional[str] = ..., reason: _Optional[str] = ..., requested_by: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class OpportunityStalled(_message.Message):
    __slots__ = ("opportunity_id", "stage", "sub_state", "owner_id", "team_id", "level", "due_at", "at", "block_reasons")
    OPPORTUNITY_ID_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    SUB_STATE_FIELD_NUMBER: _ClassVar[int]
    OWNER_ID_FIELD_NUMBER: _ClassVar[int]
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    DUE_AT_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    BLOCK_REASONS_FIELD_NUMBER: _ClassVar[int]
    opportunity_id: str
    stage: str
    sub_state: str
    owner_id: str
    team_id: str
    level: int
    due_at: _timestamp_pb2.Timestamp
    at: _timestamp_pb2.Timestamp
    block_reasons: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, opportunity_id: _Optional[str] = ..., stage: _Optional[str] = ..., sub_state: _Optional[str] = ..., owner_id: _Optional[str] = ..., team_id: _Optional[str] = ..., level: _Optional[int] = ..., due_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., block_reasons: _Optional[_Iterable[str]] = ...) -> None: ...

class LegalReviewRequested(_message.Message):
    __slots__ = ("opportunity_id", "stage", "sub_state", "owner_id", "since", "at")
    OPPORTUNITY_ID_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    SUB_STATE_FIELD_NUMBER: _ClassVar[int]
    OWNER_ID_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    opportunity_id: str
    stage: str
    sub_state: str
    owner_id: str
    since: _timestamp_pb2.Timestamp
    at: _timestamp_pb2.Timestamp
    def __init__(self, opportunity_id: _Optional[str] = ..., stage: _Optional[str] = ..., sub_state: _Optional[str] = ..., owner_id: _Optional[str] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class OpportunityHandedOver(_message.Message):
    __slots__ = ("opportunity_id", "from_owner_id", "to_owner_id", "reason", "at")
    OPPORTUNITY_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_OWNER_ID_FIELD_NUMBER: _ClassVar[int]
    TO_OWNER_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    opportunity_id: str
    from_owner_id: str
    to_owner_id: str
    reason: str
    at: _timestamp_pb2.Timestamp
    def __init__(self, opportunity_id: _Optional[str] = ..., from_owner_id: _Optional[str] = ..., to_owner_id: _Optional[str] = ..., reason: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class BlockReasonSet(_message.Message):
    __slots__ = ("opportunity_id", "stage", "reason", "by", "at")
    OPPORTUNITY_ID_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    BY_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    opportunity_id: str
    stage: str
    reason: str
    by: str
    at: _timestamp_pb2.Timestamp
    def __init__(self, opportunity_id: _Optional[str] = ..., stage: _Optional[str] = ..., reason: _Optional[str] = ..., by: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
