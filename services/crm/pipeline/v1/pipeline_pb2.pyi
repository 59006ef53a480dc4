import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Evidence(_message.Message):
    __slots__ = ("kind", "min", "media_types", "field")
    KIND_FIELD_NUMBER: _ClassVar[int]
    MIN_FIELD_NUMBER: _ClassVar[int]
    MEDIA_TYPES_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    kind: str
    min: int
    media_types: _containers.RepeatedScalarFieldContainer[str]
    field: str
    def __init__(self, kind: _Optional[str] = ..., min: _Optional[int] = ..., media_types: _Optional[_Iterable[str]] = ..., field: _Optional[str] = ...) -> None: ...

class RequiredAction(_message.Message):
    __slots__ = ("key", "name", "evidence")
    KEY_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    key: str
    name: str
    evidence: Evidence
    def __init__(self, key: _Optional[str] = ..., name: _Optional[str] = ..., evidence: _Optional[_Union[Evidence, _Mapping]] = ...) -> None: ...

class SubState(_message.Message):
    __slots__ = ("key", "name", "stall_after")
    KEY_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    STALL_AFTER_FIELD_NUMBER: _ClassVar[int]
    key: str
    name: str
    stall_after: str
    def __init__(self, key: _Optional[str] = ..., name: _Optional[str] = ..., stall_after: _Optional[str] = ...) -> None: ...

class Stage(_message.Message):
    __slots__ = ("key", "name", "probability", "sub_states", "actions", "stall_after", "stall_clock", "outcome")
    KEY_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    SUB_STATES_FIELD_NUMBER: _ClassVar[int]
    ACTIONS_FIELD_NUMBER: _ClassVar[int]
    STALL_AFTER_FIELD_NUMBER: _ClassVar[int]
    STALL_CLOCK_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    key: str
    name: str
    probability: float
    sub_states: _containers.RepeatedCompositeFieldContainer[SubState]
    actions: _containers.RepeatedCompositeFieldContainer[RequiredAction]
    stall_after: str
    stall_clock: str
    outcome: str
    def __init__(self, key: _Optional[str] = ..., name: _Optional[str] = ..., probability: _Optional[float] = ..., sub_states: _Optional[_Iterable[_Union[SubState, _Mapping]]] = ..., actions: _Optional[_Iterable[_Union[RequiredAction, _Mapping]]] = ..., stall_after: _Optional[str] = ..., stall_clock: _Optional[str] = ..., outcome: _Optional[str] = ...) -> None: ...

class SkipCondition(_message.Message):
    __slots__ = ("repeat_customer",)
    REPEAT_CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    repeat_customer: bool
    def __init__(self, repeat_customer: _Optional[bool] = ...) -> None: ...

class SkipRule(_message.Message):
    __slots__ = ("from_stage", "to_stage", "when")
    FROM_STAGE_FIELD_NUMBER: _ClassVar[int]
    TO_STAGE_FIELD_NUMBER: _ClassVar[int]
    WHEN_FIELD_NUMBER: _ClassVar[int]
    from_stage: str
    to_stage: str
    when: SkipCondition
    def __init__(self, from_stage: _Optional[str] = ..., to_stage: _Optional[str] = ..., when: _Optional[_Union[SkipCondition, _Mapping]] = ...) -> None: ...

class Pipeline(_message.Message):
    __slots__ = ("key", "version", "name", "stages", "skip_rules", "block_reasons", "created_by", "created_at", "reason")
    KEY_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    STAGES_FIELD_NUMBER: _ClassVar[int]
    SKIP_RULES_FIELD_NUMBER: _ClassVar[int]
    BLOCK_REASONS_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    key: str
    version: int
    name: str
    stages: _containers.RepeatedCompositeFieldContainer[Stage]
    skip_rules: _containers.RepeatedCompositeFieldContainer[SkipRule]
    block_reasons: _containers.RepeatedScalarFieldContainer[str]
    created_by: str
    created_at: _timestamp_pb2.Timestamp
    reason: str
    def __init__(self, key: _Optional[str] = ..., version: _Optional[int] = ..., name: _Optional[str] = ..., stages: _Optional[_Iterable[_Union[Stage, _Mapping]]] = ..., skip_rules: _Optional[_Iterable[_Union[SkipRule, _Mapping]]] = ..., block_reasons: _Optional[_Iterable[str]] = ..., created_by: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...

class ActionState(_message.Message):
    __slots__ = ("stage", "key", "done", "evidence")
    STAGE_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    stage: str
    key: str
    done: bool
    evidence: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, stage: _Optional[str] = ..., key: _Optional[str] = ..., done: _Optional[bool] = ..., evidence: _Optional[_Iterable[str]] = ...) -> None: ...

class HistoryEntry(_message.Message):
    __slots__ = ("stage", "entered_at", "left_at", "by", "approved_by", "override", "reason", "seconds_in_stage", "sub_state_seconds", "reentry")
    class SubStateSecondsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    STAGE_FIELD_NUMBER: _ClassVar[int]
    ENTERED_AT_FIELD_NUMBER: _ClassVar[int]
    LEFT_AT_FIELD_NUMBER: _ClassVar[int]
    BY_FIELD_NUMBER: _ClassVar[int]
    APPROVED_BY_FIELD_NUMBER: _ClassVar[int]
    OVERRIDE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    SECONDS_IN_STAGE_FIELD_NUMBER: _ClassVar[int]
    SUB_STATE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    REENTRY_FIELD_NUMBER: _ClassVar[int]
    stage: str
    entered_at: _timestamp_pb2.Timestamp
    left_at: _timestamp_pb2.Timestamp
    by: str
    approved_by: str
    override: bool
    reason: str
    seconds_in_stage: float
    sub_state_seconds: _containers.ScalarMap[str, float]
    reentry: int
    def __init__(self, stage: _Optional[str] = ..., entered_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., left_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., by: _Optional[str] = ..., approved_by: _Optional[str] = ..., override: _Optional[bool] = ..., reason: _Optional[str] = ..., seconds_in_stage: _Optional[float] = ..., sub_state_seconds: _Optional[_Mapping[str, float]] = ..., reentry: _Optional[int] = ...) -> None: ...

class Approval(_message.Message):
    __slots__ = ("id", "opportunity_id", "kind", "from_stage", "to_stage", "reason", "requested_by", "status", "decided_by", "decision_reason", "created_at", "decided_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    OPPORTUNITY_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    FROM_STAGE_FIELD_NUMBER: _ClassVar[int]
    TO_STAGE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_BY_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    DECIDED_BY_FIELD_NUMBER: _ClassVar[int]
    DECISION_REASON_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    DECIDED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    opportunity_id: str
    kind: str
    from_stage: str
    to_stage: str
    reason: str
    requested_by: str
    status: str
    decided_by: str
    decision_reason: str
    created_at: _timestamp_pb2.Timestamp
    decided_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., opportunity_id: _Optional[str] = ..., kind: _Optional[str] = ..., from_stage: _Optional[str] = ..., to_stage: _Optional[str] = ..., reason: _Optional[str] = ..., requested_by: _Optional[str] = ..., status: _Optional[str] = ..., decided_by: _Optional[str] = ..., decision_reason: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., decided_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Opportunity(_message.Message):
    __slots__ = ("id", "lead_id", "customer_id", "owner_id", "stage", "opened_at", "name", "amount", "currency", "pipeline", "pipeline_version", "sub_state", "status", "expected_close_date", "version", "team_id", "actions", "history", "pending_approval", "stalled", "block_reason", "lost_reason", "next_step_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    LEAD_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    OWNER_ID_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    OPENED_AT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    PIPELINE_FIELD_NUMBER: _ClassVar[int]
    PIPELINE_VERSION_FIELD_NUMBER: _ClassVar[int]
    SUB_STATE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_CLOSE_DATE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    ACTIONS_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    PENDING_APPROVAL_FIELD_NUMBER: _ClassVar[int]
    STALLED_FIELD_NUMBER: _ClassVar[int]
    BLOCK_REASON_FIELD_NUMBER: _ClassVar[int]
    LOST_REASON_FIELD_NUMBER: _ClassVar[int]
    NEXT_STEP_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    lead_id: str
    customer_id: str
    owner_id: str
    stage: str
    opened_at: _timestamp_pb2.Timestamp
    name: str
    amount: str
    currency: str
    pipeline: str
    pipeline_version: int
    sub_state: str
    status: str
    expected_close_date: str
    version: int
    team_id: str
    actions: _containers.RepeatedCompositeFieldContainer[ActionState]
    history: _containers.RepeatedCompositeFieldContainer[HistoryEntry]
    pending_approval: Approval
    stalled: bool
    block_reason: str
    lost_reason: str
    next_step_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., lead_id: _Optional[str] = ..., customer_id: _Optional[str] = ..., owner_id: _Optional[str] = ..., stage: _Optional[str] = ..., opened_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., name: _Optional[str] = ..., amount: _Optional[str] = ..., currency: _Optional[str] = ..., pipeline: _Optional[str] = ..., pipeline_version: _Optional[int] = ..., sub_state: _Optional[str] = ..., status: _Optional[str] = ..., expected_close_date: _Optional[str] = ..., version: _Optional[int] = ..., team_id: _Optional[str] = ..., actions: _Optional[_Iterable[_Union[ActionState, _Mapping]]] = ..., history: _Optional[_Iterable[_Union[HistoryEntry, _Mapping]]] = ..., pending_approval: _Optional[_Union[Approval, _Mapping]] = ..., stalled: _Optional[bool] = ..., block_reason: _Optional[str] = ..., lost_reason: _Optional[str] = ..., next_step_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetOpportunityRequest(_message.Message):
    __slots__ = ("opportunity_id",)
    OPPORTUNITY_ID_FIELD_NUMBER: _ClassVar[int]
    opportunity_id: str
    def __init__(self, opportunity_id: _Optional[str] = ...) -> None: ...

class GetOpportunityResponse(_message.Message):
    __slots__ = ("opportunity",)
    OPPORTUNITY_FIELD_NUMBER: _ClassVar[int]
    opportunity: Opportunity
    def __init__(self, opportunity: _Optional[_Union[Opportunity, _Mapping]] = ...) -> None: ...

class ListOpportunitiesRequest(_message.Message):
    __slots__ = ("lead_id",)
    LEAD_ID_FIELD_NUMBER: _ClassVar[int]
    lead_id: str
    def __init__(self, lead_id: _Optional[str] = ...) -> None: ...

class ListOpportunitiesResponse(_message.Message):
    __slots__ = ("opportunities",)
    OPPORTUNITIES_FIELD_NUMBER: _ClassVar[int]
    opportunities: _containers.RepeatedCompositeFieldContainer[Opportunity]
    def __init__(self, opportunities: _Optional[_Iterable[_Union[Opportunity, _Mapping]]] = ...) -> None: ...

class PutPipelineRequest(_message.Message):
    __slots__ = ("pipeline", "reason")
    PIPELINE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    pipeline: Pipeline
    reason: str
    def __init__(self, pipeline: _Optional[_Union[Pipeline, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...

class PutPipelineResponse(_message.Message):
    __slots__ = ("pipeline",)
    PIPELINE_FIELD_NUMBER: _ClassVar[int]
    pipeline: Pipeline
    def __init__(self, pipeline: _Optional[_Union[Pipeline, _Mapping]] = ...) -> None: ...

class GetPipelineRequest(_message.Message):
    __slots__ = ("key", "version")
    KEY_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    key: str
    version: int
    def __init__(self, key: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class GetPipelineResponse(_message.Message):
    __slots__ = ("pipeline",)
    PIPELINE_FIELD_NUMBER: _ClassVar[int]
    pipeline: Pipeline
    def __init__(self, pipeline: _Optional[_Union[Pipeline, _Mapping]] = ...) -> None: ...

class CreateOpportunityRequest(_message.Message):
    __slots__ = ("customer_id", "name", "amount", "currency", "owner_id", "pipeline", "lead_id", "expected_close_date", "idempotency_key")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    OWNER_ID_FIELD_NUMBER: _ClassVar[int]
    PIPELINE_FIELD_NUMBER: _ClassVar[int]
    LEAD_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_CLOSE_DATE_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    name: str
    amount: str
    currency: str
    owner_id: str
    pipeline: str
    lead_id: str
    expected_close_date: str
    idempotency_key: str
    def __init__(self, customer_id: _Optional[str] = ..., name: _Optional[str] = ..., amount: _Optional[str] = ..., currency: _Optional[str] = ..., owner_id: _Optional[str] = ..., pipeline: _Optional[str] = ..., lead_id: _Optional[str] = ..., expected_close_date: _Optional[str] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class CreateOpportunityResponse(_message.Message):
    __slots__ = ("opportunity",)
    OPPORTUNITY_FIELD_NUMBER: _ClassVar[int]
    opportunity: Opportunity
    def __init__(self, opportunity: _Optional[_Union[Opportunity, _Mapping]] = ...) -> None: ...

class UpdateOpportunityRequest(_message.Message):
    __slots__ = ("opportunity_id", "update_mask", "name", "amount", "currency", "expected_close_date", "customer_id", "next_step_at", "version")
    OPPORTUNITY_ID_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_CLOSE_DATE_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    NEXT_STEP_AT_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    opportunity_id: str
    update_mask: _containers.RepeatedScalarFieldContainer[str]
    name: str
    amount: str
    currency: str
    expected_close_date: str
    customer_id: str
    next_step_at: _timestamp_pb2.Timestamp
    version: int
    def __init__(self, opportunity_id: _Optional[str] = ..., update_mask: _Optional[_Iterable[str]] = ..., name: _Optional[str] = ..., amount: _Optional[str] = ..., currency: _Optional[str] = ..., expected_close_date: _Optional[str] = ..., customer_id: _Optional[str] = ..., next_step_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., version: _Optional[int] = ...) -> None: ...

class UpdateOpportunityResponse(_message.Message):
    __slots__ = ("opportunity",)
    OPPORTUNITY_FIELD_NUMBER: _ClassVar[int]
    opportunity: Opportunity
    def __init__(self, opportunity: _Optional[_Union[Opportunity, _Mapping]] = ...) -> None: ...

class RecordContactRequest(_message.Message):
    __slots__ = ("opportunity_id", "channel", "summary")
    OPPORTUNITY_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    opportunity_id: str
    channel: str
    summary: str
    def __init__(self, opportunity_id: _Optional[str] = ..., channel: _Optional[str] = ..., summary: _Optional[str] = ...) -> None: ...

class RecordContactResponse(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class AddFileRequest(_message.Message):
    __slots__ = ("opportunity_id", "action", "content", "filename")
    OPPORTUNITY_ID_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    opportunity_id: str
    action: str
    content: bytes
    filename: str
    def __init__(self, opportunity_id: _Optional[str] = ..., action: _Optional[str] = ..., content: _Optional[bytes] = ..., filename: _Optional[str] = ...) -> None: ...

class AddFileResponse(_message.Message):
    __slots__ = ("id", "sha256", "media_type", "size")
    ID_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    MEDIA_TYPE_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    id: str
    sha256: str
    media_type: str
    size: int
    def __init__(self, id: _Optional[str] = ..., sha256: _Optional[str] = ..., media_type: _Optional[str] = ..., size: _Optional[int] = ...) -> None: ...

class RecordConfirmationRequest(_message.Message):
    __slots__ = ("opportunity_id", "action", "confirmed_by", "note")
    OPPORTUNITY_ID_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    CONFIRMED_BY_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    opportunity_id: str
    action: str
    confirmed_by: str
    note: str
    def __init__(self, opportunity_id: _Optional[str] = ..., action: _Optional[str] = ..., confirmed_by: _Optional[str] = ..., note: _Optional[str] = ...) -> None: ...

class RecordConfirmationResponse(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class MoveStageRequest(_message.Message):
    __slots__ = ("opportunity_id", "to_stage", "reason", "dry_run", "version")
    OPPORTUNITY_ID_FIELD_NUMBER: _ClassVar[int]
    TO_STAGE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    opportunity_id: str
    to_stage: str
    reason: str
    dry_run: bool
    version: int
    def __init__(self, opportunity_id: _Optional[str] = ..., to_stage: _Optional[str] = ..., reason: _Optional[str] = ..., dry_run: _Optional[bool] = ..., version: _Optional[int] = ...) -> None: ...

class MissingItem(_message.Message):
    __slots__ = ("stage", "action", "need", "have")
    STAGE_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    NEED_FIELD_NUMBER: _ClassVar[int]
    HAVE_FIELD_NUMBER: _ClassVar[int]
    stage: str
    action: str
    need: str
    have: str
    def __init__(self, stage: _Optional[str] = ..., action: _Optional[str] = ..., need: _Optional[str] = ..., have: _Optional[str] = ...) -> None: ...

class MoveStageResponse(_message.Message):
    __slots__ = ("allowed", "needs_approval", "missing", "opportunity", "approval_id")
    ALLOWED_FIELD_NUMBER: _ClassVar[int]
    NEEDS_APPROVAL_FIELD_NUMBER: _ClassVar[int]
    MISSING_FIELD_NUMBER: _ClassVar[int]
    OPPORTUNITY_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_ID_FIELD_NUMBER: _ClassVar[int]
    allowed: bool
    needs_approval: bool
    missing: _containers.RepeatedCompositeFieldContainer[MissingItem]
    opportunity: Opportunity
    approval_id: str
    def __init__(self, allowed: _Optional[bool] = ..., needs_approval: _Optional[bool] = ..., missing: _Optional[_Iterable[_Union[MissingItem, _Mapping]]] = ..., opportunity: _Optional[_Union[Opportunity, _Mapping]] = ..., approval_id: _Optional[str] = ...) -> None: ...

class StageChange(_message.Message):
    __slots__ = ("opportunity_id", "to_stage", "reason")
    OPPORTUNITY_ID_FIELD_NUMBER: _ClassVar[int]
    TO_STAGE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    opportunity_id: str
    to_stage: str
    reason: str
    def __init__(self, opportunity_id: _Optional[str] = ..., to_stage: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class ImportStageChangesRequest(_message.Message):
    __slots__ = ("changes",)
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    changes: _containers.RepeatedCompositeFieldContainer[StageChange]
    def __init__(self, changes: _Optional[_Iterable[_Union[StageChange, _Mapping]]] = ...) -> None: ...

class StageChangeResult(_message.Message):
    __slots__ = ("opportunity_id", "outcome", "missing", "approval_id", "message")
    OPPORTUNITY_ID_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    MISSING_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    opportunity_id: str
    outcome: str
    missing: _containers.RepeatedCompositeFieldContainer[MissingItem]
    approval_id: str
    message: str
    def __init__(self, opportunity_id: _Optional[str] = ..., outcome: _Optional[str] = ..., missing: _Optional[_Iterable[_Union[MissingItem, _Mapping]]] = ..., approval_id: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class ImportStageChangesResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[StageChangeResult]
    def __init__(self, results: _Optional[_Iterable[_Union[StageChangeResult, _Mapping]]] = ...) -> None: ...

class SetSubStateRequest(_message.Message):
    __slots__ = ("opportunity_id", "sub_state")
    OPPORTUNITY_ID_FIELD_NUMBER: _ClassVar[int]
    SUB_STATE_FIELD_NUMBER: _ClassVar[int]
    opportunity_id: str
    sub_state: str
    def __init__(self, opportunity_id: _Optional[str] = ..., sub_state: _Optional[str] = ...) -> None: ...

class SetSubStateResponse(_message.Message):
    __slots__ = ("opportunity",)
    OPPORTUNITY_FIELD_NUMBER: _ClassVar[int]
    opportunity: Opportunity
    def __init__(self, opportunity: _Optional[_Union[Opportunity, _Mapping]] = ...) -> None: ...

class SetBlockReasonRequest(_message.Message):
    __slots__ = ("opportunity_id", "reason")
    OPPORTUNITY_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    opportunity_id: str
    reason: str
    def __init__(self, opportunity_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class SetBlockReasonResponse(_message.Message):
    __slots__ = ("opportunity",)
    OPPORTUNITY_FIELD_NUMBER: _ClassVar[int]
    opportunity: Opportunity
    def __init__(self, opportunity: _Optional[_Union[Opportunity, _Mapping]] = ...) -> None: ...

class RequestOverrideRequest(_message.Message):
    __slots__ = ("opportunity_id", "to_stage", "reason")
    OPPORTUNITY_ID_FIELD_NUMBER: _ClassVar[int]
    TO_STAGE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    opportunity_id: str
    to_stage: str
    reason: str
    def __init__(self, opportunity_id: _Optional[str] = ..., to_stage: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class RequestOverrideResponse(_message.Message):
    __slots__ = ("approval",)
    APPROVAL_FIELD_NUMBER: _ClassVar[int]
    approval: Approval
    def __init__(self, approval: _Optional[_Union[Approval, _Mapping]] = ...) -> None: ...

class ListApprovalsRequest(_message.Message):
    __slots__ = ("status", "opportunity_id")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    OPPORTUNITY_ID_FIELD_NUMBER: _ClassVar[int]
    status: str
    opportunity_id: str
    def __init__(self, status: _Optional[str] = ..., opportunity_id: _Optional[str] = ...) -> None: ...

class ListApprovalsResponse(_message.Message):
    __slots__ = ("approvals",)
    APPROVALS_FIELD_NUMBER: _ClassVar[int]
    approvals: _containers.RepeatedCompositeFieldContainer[Approval]
    def __init__(self, approvals: _Optional[_Iterable[_Union[Approval, _Mapping]]] = ...) -> None: ...

class DecideApprovalRequest(_message.Message):
    __slots__ = ("approval_id", "approve", "reason")
    APPROVAL_ID_FIELD_NUMBER: _ClassVar[int]
    APPROVE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    approval_id: str
    approve: bool
    reason: str
    def __init__(self, approval_id: _Optional[str] = ..., approve: _Optional[bool] = ..., reason: _Optional[str] = ...) -> None: ...

class DecideApprovalResponse(_message.Message):
    __slots__ = ("approval", "opportunity")
    APPROVAL_FIELD_NUMBER: _ClassVar[int]
    OPPORTUNITY_FIELD_NUMBER: _ClassVar[int]
    approval: Approval
    opportunity: Opportunity
    def __init__(self, approval: _Optional[_Union[Approval, _Mapping]] = ..., opportunity: _Optional[_Union[Opportunity, _Mapping]] = ...) -> None: ...

class OpportunityNotification(_message.Message):
    __slots__ = ("id", "kind", "recipient_id", "at", "detail")
    ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    RECIPIENT_ID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    id: str
    kind: str
    recipient_id: str
    at: _timestamp_pb2.Timestamp
    detail: str
    def __init__(self, id: _Optional[str] = ..., kind: _Optional[str] = ..., recipient_id: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., detail: _Optional[str] = ...) -> None: ...

class ListOpportunityNotificationsRequest(_message.Message):
    __slots__ = ("opportunity_id",)
    OPPORTUNITY_ID_FIELD_NUMBER: _ClassVar[int]
    opportunity_id: str
    def __init__(self, opportunity_id: _Optional[str] = ...) -> None: ...

class ListOpportunityNotificationsResponse(_message.Message):
    __slots__ = ("notifications",)
    NOTIFICATIONS_FIELD_NUMBER: _ClassVar[int]
    notifications: _containers.RepeatedCompositeFieldContainer[OpportunityNotification]
    def __init__(self, notifications: _Optional[_Iterable[_Union[OpportunityNotification, _Mapping]]] = ...) -> None: ...

class GetForecastRequest(_message.Message):
    __slots__ = ("group_by", "month")
    GROUP_BY_FIELD_NUMBER: _ClassVar[int]
    MONTH_FIELD_NUMBER: _ClassVar[int]
    group_by: str
    month: str
    def __init__(self, group_by: _Optional[str] = ..., month: _Optional[str] = ...) -> None: ...

class ForecastRow(_message.Message):
    __slots__ = ("owner_id", "team_id", "count", "amount", "weighted_amount", "won_amount", "won_count")
    OWNER_ID_FIELD_NUMBER: _ClassVar[int]
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    WEIGHTED_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    WON_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    WON_COUNT_FIELD_NUMBER: _ClassVar[int]
    owner_id: str
    team_id: str
    count: int
    amount: str
    weighted_amount: str
    won_amount: str
    won_count: int
    def __init__(self, owner_id: _Optional[str] = ..., team_id: _Optional[str] = ..., count: _Optional[int] = ..., amount: _Optional[str] = ..., weighted_amount: _Optional[str] = ..., won_amount: _Optional[str] = ..., won_count: _Optional[int] = ...) -> None: ...

class GetForecastResponse(_message.Message):
    __slots__ = ("month", "rows")
    MONTH_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    month: str
    rows: _containers.RepeatedCompositeFieldContainer[ForecastRow]
    def __init__(self, month: _Optional[str] = ..., rows: _Optional[_Iterable[_Union[ForecastRow, _Mapping]]] = ...) -> None: ...
