import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Customer(_message.Message):
    __slots__ = ("id", "name", "company", "phone", "email", "created_at", "credit_code", "steward_id", "first_cooperation_date", "merged_into", "steward_needed")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    COMPANY_FIELD_NUMBER: _ClassVar[int]
    PHONE_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    CREDIT_CODE_FIELD_NUMBER: _ClassVar[int]
    STEWARD_ID_FIELD_NUMBER: _ClassVar[int]
    FIRST_COOPERATION_DATE_FIELD_NUMBER: _ClassVar[int]
    MERGED_INTO_FIELD_NUMBER: _ClassVar[int]
    STEWARD_NEEDED_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    company: str
    phone: str
    email: str
    created_at: _timestamp_pb2.Timestamp
    credit_code: str
    steward_id: str
    first_cooperation_date: str
    merged_into: str
    steward_needed: bool
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., company: _Optional[str] = ..., phone: _Optional[str] = ..., email: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., credit_code: _Optional[str] = ..., steward_id: _Optional[str] = ..., first_cooperation_date: _Optional[str] = ..., merged_into: _Optional[str] = ..., steward_needed: _Optional[bool] = ...) -> None: ...

class ResolveCustomerRequest(_message.Message):
    __slots__ = ("name", "company", "phone", "email", "source_ref", "credit_code")
    NAME_FIELD_NUMBER: _ClassVar[int]
    COMPANY_FIELD_NUMBER: _ClassVar[int]
    PHONE_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    SOURCE_REF_FIELD_NUMBER: _ClassVar[int]
    CREDIT_CODE_FIELD_NUMBER: _ClassVar[int]
    name: str
    company: str
    phone: str
    email: str
    source_ref: str
    credit_code: str
    def __init__(self, name: _Optional[str] = ..., company: _Optional[str] = ..., phone: _Optional[str] = ..., email: _Optional[str] = ..., source_ref: _Optional[str] = ..., credit_code: _Optional[str] = ...) -> None: ...

class ResolveCustomerResponse(_message.Message):
    __slots__ = ("customer", "created", "matched_on", "review_id", "explanation")
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    MATCHED_ON_FIELD_NUMBER: _ClassVar[int]
    REVIEW_ID_FIELD_NUMBER: _ClassVar[int]
    EXPLANATION_FIELD_NUMBER: _ClassVar[int]
    customer: Customer
    created: bool
    matched_on: str
    review_id: str
    explanation: str
    def __init__(self, customer: _Optional[_Union[Customer, _Mapping]] = ..., created: _Optional[bool] = ..., matched_on: _Optional[str] = ..., review_id: _Optional[str] = ..., explanation: _Optional[str] = ...) -> None: ...

class GetCustomerRequest(_message.Message):
    __slots__ = ("customer_id",)
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    def __init__(self, customer_id: _Optional[str] = ...) -> None: ...

class GetCustomerResponse(_message.Message):
    __slots__ = ("customer",)
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    customer: Customer
    def __init__(self, customer: _Optional[_Union[Customer, _Mapping]] = ...) -> None: ...

class MatchCustomerRequest(_message.Message):
    __slots__ = ("name", "company", "phone", "email", "credit_code", "limit")
    NAME_FIELD_NUMBER: _ClassVar[int]
    COMPANY_FIELD_NUMBER: _ClassVar[int]
    PHONE_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    CREDIT_CODE_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    name: str
    company: str
    phone: str
    email: str
    credit_code: str
    limit: int
    def __init__(self, name: _Optional[str] = ..., company: _Optional[str] = ..., phone: _Optional[str] = ..., email: _Optional[str] = ..., credit_code: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class Candidate(_message.Message):
    __slots__ = ("customer", "score", "decision", "explanation")
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    EXPLANATION_FIELD_NUMBER: _ClassVar[int]
    customer: Customer
    score: float
    decision: str
    explanation: str
    def __init__(self, customer: _Optional[_Union[Customer, _Mapping]] = ..., score: _Optional[float] = ..., decision: _Optional[str] = ..., explanation: _Optional[str] = ...) -> None: ...

class MatchCustomerResponse(_message.Message):
    __slots__ = ("candidates",)
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    candidates: _containers.RepeatedCompositeFieldContainer[Candidate]
    def __init__(self, candidates: _Optional[_Iterable[_Union[Candidate, _Mapping]]] = ...) -> None: ...

class Review(_message.Message):
    __slots__ = ("id", "customer_id", "candidate_id", "score", "explanation", "status", "created_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    CANDIDATE_ID_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    EXPLANATION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    customer_id: str
    candidate_id: str
    score: float
    explanation: str
    status: str
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., customer_id: _Optional[str] = ..., candidate_id: _Optional[str] = ..., score: _Optional[float] = ..., explanation: _Optional[str] = ..., status: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListReviewsRequest(_message.Message):
    __slots__ = ("status", "limit")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    status: str
    limit: int
    def __init__(self, status: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class ListReviewsResponse(_message.Message):
    __slots__ = ("reviews",)
    REVIEWS_FIELD_NUMBER: _ClassVar[int]
    reviews: _containers.RepeatedCompositeFieldContainer[Review]
    def __init__(self, reviews: _Optional[_Iterable[_Union[Review, _Mapping]]] = ...) -> None: ...

class DecideReviewRequest(_message.Message):
    __slots__ = ("review_id", "decision", "actor_id", "reason")
    REVIEW_ID_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    ACTOR_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    review_id: str
    decision: str
    actor_id: str
    reason: str
    def __init__(self, review_id: _Optional[str] = ..., decision: _Optional[str] = ..., actor_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class DecideReviewResponse(_message.Message):
    __slots__ = ("review", "merge_id")
    REVIEW_FIELD_NUMBER: _ClassVar[int]
    MERGE_ID_FIELD_NUMBER: _ClassVar[int]
    review: Review
    merge_id: str
    def __init__(self, review: _Optional[_Union[Review, _Mapping]] = ..., merge_id: _Optional[str] = ...) -> None: ...

class MergeCustomersRequest(_message.Message):
    __slots__ = ("survivor_id", "merged_id", "actor_id", "reason")
    SURVIVOR_ID_FIELD_NUMBER: _ClassVar[int]
    MERGED_ID_FIELD_NUMBER: _ClassVar[int]
    ACTOR_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    survivor_id: str
    merged_id: str
    actor_id: str
    reason: str
    def __init__(self, survivor_id: _Optional[str] = ..., merged_id: _Optional[str] = ..., actor_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class MergeCustomersResponse(_message.Message):
    __slots__ = ("merge_id", "survivor")
    MERGE_ID_FIELD_NUMBER: _ClassVar[int]
    SURVIVOR_FIELD_NUMBER: _ClassVar[int]
    merge_id: str
    survivor: Customer
    def __init__(self, merge_id: _Optional[str] = ..., survivor: _Optional[_Union[Customer, _Mapping]] = ...) -> None: ...

class UnmergeCustomersRequest(_message.Message):
    __slots__ = ("merge_id", "actor_id", "reason")
    MERGE_ID_FIELD_NUMBER: _ClassVar[int]
    ACTOR_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    merge_id: str
    actor_id: str
    reason: str
    def __init__(self, merge_id: _Optional[str] = ..., actor_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class UnmergeCustomersResponse(_message.Message):
    __slots__ = ("survivor", "restored")
    SURVIVOR_FIELD_NUMBER: _ClassVar[int]
    RESTORED_FIELD_NUMBER: _ClassVar[int]
    survivor: Customer
    restored: Customer
    def __init__(self, survivor: _Optional[_Union[Customer, _Mapping]] = ..., restored: _Optional[_Union[Customer, _Mapping]] = ...) -> None: ...

class GetHistoryRequest(_message.Message):
    __slots__ = ("customer_id",)
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    def __init__(self, customer_id: _Optional[str] = ...) -> None: ...

class Change(_message.Message):
    __slots__ = ("field", "old_value", "new_value", "actor_id", "actor_role", "reason", "at", "change_request_id")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    OLD_VALUE_FIELD_NUMBER: _ClassVar[int]
    NEW_VALUE_FIELD_NUMBER: _ClassVar[int]
    ACTOR_ID_FIELD_NUMBER: _ClassVar[int]
    ACTOR_ROLE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    CHANGE_REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    field: str
    old_value: str
    new_value: str
    actor_id: str
    actor_role: str
    reason: str
    at: _timestamp_pb2.Timestamp
    change_request_id: str
    def __init__(self, field: _Optional[str] = ..., old_value: _Optional[str] = ..., new_value: _Optional[str] = ..., actor_id: _Optional[str] = ..., actor_role: _Optional[str] = ..., reason: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., change_request_id: _Optional[str] = ...) -> None: ...

class GetHistoryResponse(_message.Message):
    __slots__ = ("changes",)
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    changes: _containers.RepeatedCompositeFieldContainer[Change]
    def __init__(self, changes: _Optional[_Iterable[_Union[Change, _Mapping]]] = ...) -> None: ...

class UpdateCustomerFieldRequest(_message.Message):
    __slots__ = ("customer_id", "field", "value", "actor_id", "actor_role", "reason")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    ACTOR_ID_FIELD_NUMBER: _ClassVar[int]
    ACTOR_ROLE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    field: str
    value: str
    actor_id: str
    actor_role: str
    reason: str
    def __init__(self, customer_id: _Optional[str] = ..., field: _Optional[str] = ..., value: _Optional[str] = ..., actor_id: _Optional[str] = ..., actor_role: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class UpdateCustomerFieldResponse(_message.Message):
    __slots__ = ("customer",)
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    customer: Customer
    def __init__(self, customer: _Optional[_Union[Customer, _Mapping]] = ...) -> None: ...

class FileChangeRequestRequest(_message.Message):
    __slots__ = ("customer_id", "field", "value", "actor_id", "reason")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    ACTOR_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    field: str
    value: str
    actor_id: str
    reason: str
    def __init__(self, customer_id: _Optional[str] = ..., field: _Optional[str] = ..., value: _Optional[str] = ..., actor_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class FileChangeRequestResponse(_message.Message):
    __slots__ = ("change_request_id",)
    CHANGE_REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    change_request_id: str
    def __init__(self, change_request_id: _Optional[str] = ...) -> None: ...

class ReassignStewardRequest(_message.Message):
    __slots__ = ("from_rep_id", "to_rep_id", "actor_id")
    FROM_REP_ID_FIELD_NUMBER: _ClassVar[int]
    TO_REP_ID_FIELD_NUMBER: _ClassVar[int]
    ACTOR_ID_FIELD_NUMBER: _ClassVar[int]
    from_rep_id: str
    to_rep_id: str
    actor_id: str
    def __init__(self, from_rep_id: _Optional[str] = ..., to_rep_id: _Optional[str] = ..., actor_id: _Optional[str] = ...) -> None: ...

class ReassignStewardResponse(_message.Message):
    __slots__ = ("reassigned",)
    REASSIGNED_FIELD_NUMBER: _ClassVar[int]
    reassigned: int
    def __init__(self, reassigned: _Optional[int] = ...) -> None: ...

class GetDataHealthRequest(_message.Message):
    __slots__ = ("stale_after_days",)
    STALE_AFTER_DAYS_FIELD_NUMBER: _ClassVar[int]
    stale_after_days: int
    def __init__(self, stale_after_days: _Optional[int] = ...) -> None: ...

class GetDataHealthResponse(_message.Message):
    __slots__ = ("customers", "duplicate_rate", "missing_phone", "missing_credit_code", "stale_records", "review_queue_size", "steward_needed", "suspected_duplicates")
    CUSTOMERS_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_RATE_FIELD_NUMBER: _ClassVar[int]
    MISSING_PHONE_FIELD_NUMBER: _ClassVar[int]
    MISSING_CREDIT_CODE_FIELD_NUMBER: _ClassVar[int]
    STALE_RECORDS_FIELD_NUMBER: _ClassVar[int]
    REVIEW_QUEUE_SIZE_FIELD_NUMBER: _ClassVar[int]
    STEWARD_NEEDED_FIELD_NUMBER: _ClassVar[int]
    SUSPECTED_DUPLICATES_FIELD_NUMBER: _ClassVar[int]
    customers: int
    duplicate_rate: float
    missing_phone: int
    missing_credit_code: int
    stale_records: int
    review_queue_size: int
    steward_needed: int
    suspected_duplicates: int
    def __init__(self, customers: _Optional[int] = ..., duplicate_rate: _Optional[float] = ..., missing_phone: _Optional[int] = ..., missing_credit_code: _Optional[int] = ..., stale_records: _Optional[int] = ..., review_queue_size: _Optional[int] = ..., steward_needed: _Optional[int] = ..., suspected_duplicates: _Optional[int] = ...) -> None: ...

class GetMatchRulesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetMatchRulesResponse(_message.Message):
    __slots__ = ("rules_json",)
    RULES_JSON_FIELD_NUMBER: _ClassVar[int]
    rules_json: str
    def __init__(self, rules_json: _Optional[str] = ...) -> None: ...

class SetMatchRulesRequest(_message.Message):
    __slots__ = ("rules_json", "actor_id")
    RULES_JSON_FIELD_NUMBER: _ClassVar[int]
    ACTOR_ID_FIELD_NUMBER: _ClassVar[int]
    rules_json: str
    actor_id: str
    def __init__(self, rules_json: _Optional[str] = ..., actor_id: _Optional[str] = ...) -> None: ...

class SetMatchRulesResponse(_message.Message):
    __slots__ = ("rules_json",)
    RULES_JSON_FIELD_NUMBER: _ClassVar[int]
    rules_json: str
    def __init__(self, rules_json: _Optional[str] = ...) -> None: ...

class ChangeRequest(_message.Message):
    __slots__ = ("id", "customer_id", "field", "value", "old_value", "actor_id", "reason", "status", "created_at", "decided_by", "decided_role", "decision_reason", "decided_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    OLD_VALUE_FIELD_NUMBER: _ClassVar[int]
    ACTOR_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    DECIDED_BY_FIELD_NUMBER: _ClassVar[int]
    DECIDED_ROLE_FIELD_NUMBER: _ClassVar[int]
    DECISION_REASON_FIELD_NUMBER: _ClassVar[int]
    DECIDED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    customer_id: str
    field: str
    value: str
    old_value: str
    actor_id: str
    reason: str
    status: str
    created_at: _timestamp_pb2.Timestamp
    decided_by: str
    decided_role: str
    decision_reason: str
    decided_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., customer_id: _Optional[str] = ..., field: _Optional[str] = ..., value: _Optional[str] = ..., old_value: _Optional[str] = ..., actor_id: _Optional[str] = ..., reason: _Optional[str] = ..., status: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., decided_by: _Optional[str] = ..., decided_role: _Optional[str] = ..., decision_reason: _Optional[str] = ..., decided_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListChangeRequestsRequest(_message.Message):
    __slots__ = ("customer_id", "status", "limit")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    status: str
    limit: int
    def __init__(self, customer_id: _Optional[str] = ..., status: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class ListChangeRequestsResponse(_message.Message):
    __slots__ = ("change_requests",)
    CHANGE_REQUESTS_FIELD_NUMBER: _ClassVar[int]
    change_requests: _containers.RepeatedCompositeFieldContainer[ChangeRequest]
    def __init__(self, change_requests: _Optional[_Iterable[_Union[ChangeRequest, _Mapping]]] = ...) -> None: ...

class ApproveChangeRequestRequest(_message.Message):
    __slots__ = ("change_request_id", "actor_id", "actor_role", "reason")
    CHANGE_REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ACTOR_ID_FIELD_NUMBER: _ClassVar[int]
    ACTOR_ROLE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    change_request_id: str
    actor_id: str
    actor_role: str
    reason: str
    def __init__(self, change_request_id: _Optional[str] = ..., actor_id: _Optional[str] = ..., actor_role: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class ApproveChangeRequestResponse(_message.Message):
    __slots__ = ("change_request", "customer")
    CHANGE_REQUEST_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    change_request: ChangeRequest
    customer: Customer
    def __init__(self, change_request: _Optional[_Union[ChangeRequest, _Mapping]] = ..., customer: _Optional[_Union[Customer, _Mapping]] = ...) -> None: ...

class RejectChangeRequestRequest(_message.Message):
    __slots__ = ("change_request_id", "actor_id", "actor_role", "reason")
    CHANGE_REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ACTOR_ID_FIELD_NUMBER: _ClassVar[int]
    ACTOR_ROLE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    change_request_id: str
    actor_id: str
    actor_role: str
    reason: str
    def __init__(self, change_request_id: _Optional[str] = ..., actor_id: _Optional[str] = ..., actor_role: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class RejectChangeRequestResponse(_message.Message):
    __slots__ = ("change_request",)
    CHANGE_REQUEST_FIELD_NUMBER: _ClassVar[int]
    change_request: ChangeRequest
    def __init__(self, change_request: _Optional[_Union[ChangeRequest, _Mapping]] = ...) -> None: ...

class StartDedupJobRequest(_message.Message):
    __slots__ = ("scope", "file", "file_format", "send_to_review", "actor_id", "idempotency_key")
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    FILE_FIELD_NUMBER: _ClassVar[int]
    FILE_FORMAT_FIELD_NUMBER: _ClassVar[int]
    SEND_TO_REVIEW_FIELD_NUMBER: _ClassVar[int]
    ACTOR_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    scope: str
    file: bytes
    file_format: str
    send_to_review: bool
    actor_id: str
    idempotency_key: str
    def __init__(self, scope: _Optional[str] = ..., file: _Optional[bytes] = ..., file_format: _Optional[str] = ..., send_to_review: _Optional[bool] = ..., actor_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class StartDedupJobResponse(_message.Message):
    __slots__ = ("job", "created")
    JOB_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    job: DedupJob
    created: bool
    def __init__(self, job: _Optional[_Union[DedupJob, _Mapping]] = ..., created: _Optional[bool] = ...) -> None: ...

class DedupJob(_message.Message):
    __slots__ = ("id", "scope", "status", "send_to_review", "requested_by", "records_total", "records_loaded", "candidate_pairs", "pairs_scored", "clusters_found", "reviews_queued", "error", "attempts", "created_at", "started_at", "finished_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    SEND_TO_REVIEW_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_BY_FIELD_NUMBER: _ClassVar[int]
    RECORDS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    RECORDS_LOADED_FIELD_NUMBER: _ClassVar[int]
    CANDIDATE_PAIRS_FIELD_NUMBER: _ClassVar[int]
    PAIRS_SCORED_FIELD_NUMBER: _ClassVar[int]
    CLUSTERS_FOUND_FIELD_NUMBER: _ClassVar[int]
    REVIEWS_QUEUED_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    scope: str
    status: str
    send_to_review: bool
    requested_by: str
    records_total: int
    records_loaded: int
    candidate_pairs: int
    pairs_scored: int
    clusters_found: int
    reviews_queued: int
    error: str
    attempts: int
    created_at: _timestamp_pb2.Timestamp
    started_at: _timestamp_pb2.Timestamp
    finished_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., scope: _Optional[str] = ..., status: _Optional[str] = ..., send_to_review: _Optional[bool] = ..., requested_by: _Optional[str] = ..., records_total: _Optional[int] = ..., records_loaded: _Optional[int] = ..., candidate_pairs: _Optional[int] = ..., pairs_scored: _Optional[int] = ..., clusters_found: _Optional[int] = ..., reviews_queued: _Optional[int] = ..., error: _Optional[str] = ..., attempts: _Optional[int] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finished_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class DedupMember(_message.Message):
    __slots__ = ("customer_id", "row", "ref", "company", "name", "phone", "email", "credit_code")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    ROW_FIELD_NUMBER: _ClassVar[int]
    REF_FIELD_NUMBER: _ClassVar[int]
    COMPANY_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PHONE_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    CREDIT_CODE_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    row: int
    ref: str
    company: str
    name: str
    phone: str
    email: str
    credit_code: str
    def __init__(self, customer_id: _Optional[str] = ..., row: _Optional[int] = ..., ref: _Optional[str] = ..., company: _Optional[str] = ..., name: _Optional[str] = ..., phone: _Optional[str] = ..., email: _Optional[str] = ..., credit_code: _Optional[str] = ...) -> None: ...

class DedupPair(_message.Message):
    __slots__ = ("a", "b", "score", "decision", "explanation", "review_id")
    A_FIELD_NUMBER: _ClassVar[int]
    B_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    EXPLANATION_FIELD_NUMBER: _ClassVar[int]
    REVIEW_ID_FIELD_NUMBER: _ClassVar[int]
    a: int
    b: int
    score: float
    decision: str
    explanation: str
    review_id: str
    def __init__(self, a: _Optional[int] = ..., b: _Optional[int] = ..., score: _Optional[float] = ..., decision: _Optional[str] = ..., explanation: _Optional[str] = ..., review_id: _Optional[str] = ...) -> None: ...

class DedupCluster(_message.Message):
    __slots__ = ("number", "decision", "score", "members", "pairs")
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    PAIRS_FIELD_NUMBER: _ClassVar[int]
    number: int
    decision: str
    score: float
    members: _containers.RepeatedCompositeFieldContainer[DedupMember]
    pairs: _containers.RepeatedCompositeFieldContainer[DedupPair]
    def __init__(self, number: _Optional[int] = ..., decision: _Optional[str] = ..., score: _Optional[float] = ..., members: _Optional[_Iterable[_Union[DedupMember, _Mapping]]] = ..., pairs: _Optional[_Iterable[_Union[DedupPair, _Mapping]]] = ...) -> None: ...

class GetDedupJobRequest(_message.Message):
    __slots__ = ("job_id", "cluster_limit")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_LIMIT_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    cluster_limit: int
    def __init__(self, job_id: _Optional[str] = ..., cluster_limit: _Optional[int] = ...) -> None: ...

class GetDedupJobResponse(_message.Message):
    __slots__ = ("job", "clusters")
    JOB_FIELD_NUMBER: _ClassVar[int]
    CLUSTERS_FIELD_NUMBER: _ClassVar[int]
    job: DedupJob
    clusters: _containers.RepeatedCompositeFieldContainer[DedupCluster]
    def __init__(self, job: _Optional[_Union[DedupJob, _Mapping]] = ..., clusters: _Optional[_Iterable[_Union[DedupCluster, _Mapping]]] = ...) -> None: ...

class ListDedupJobsRequest(_message.Message):
    __slots__ = ("status", "limit")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    status: str
    limit: int
    def __init__(self, status: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class ListDedupJobsResponse(_message.Message):
    __slots__ = ("jobs",)
    JOBS_FIELD_NUMBER: _ClassVar[int]
    jobs: _containers.RepeatedCompositeFieldContainer[DedupJob]
    def __init__(self, jobs: _Optional[_Iterable[_Union[DedupJob, _Mapping]]] = ...) -> None: ...
