import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Customer(_message.Message):
    __slots__ = ("id", "name", "company", "phone", "email", "created_at", "credit_code", "steward_id", "first_cooperation_date", "merged_into")
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
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., company: _Optional[str] = ..., phone: _Optional[str] = ..., email: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., credit_code: _Optional[str] = ..., steward_id: _Optional[str] = ..., first_cooperation_date: _Optional[str] = ..., merged_into: _Optional[str] = ...) -> None: ...

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
    __slots__ = ("field", "old_value", "new_value", "actor_id", "actor_role", "reason", "at")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    OLD_VALUE_FIELD_NUMBER: _ClassVar[int]
    NEW_VALUE_FIELD_NUMBER: _ClassVar[int]
    ACTOR_ID_FIELD_NUMBER: _ClassVar[int]
    ACTOR_ROLE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    field: str
    old_value: str
    new_value: str
    actor_id: str
    actor_role: str
    reason: str
    at: _timestamp_pb2.Timestamp
    def __init__(self, field: _Optional[str] = ..., old_value: _Optional[str] = ..., new_value: _Optional[str] = ..., actor_id: _Optional[str] = ..., actor_role: _Optional[str] = ..., reason: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

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
    __slots__ = ("customers", "duplicate_rate", "missing_phone", "missing_credit_code", "stale_records", "review_queue_size")
    CUSTOMERS_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_RATE_FIELD_NUMBER: _ClassVar[int]
    MISSING_PHONE_FIELD_NUMBER: _ClassVar[int]
    MISSING_CREDIT_CODE_FIELD_NUMBER: _ClassVar[int]
    STALE_RECORDS_FIELD_NUMBER: _ClassVar[int]
    REVIEW_QUEUE_SIZE_FIELD_NUMBER: _ClassVar[int]
    customers: int
    duplicate_rate: float
    missing_phone: int
    missing_credit_code: int
    stale_records: int
    review_queue_size: int
    def __init__(self, customers: _Optional[int] = ..., duplicate_rate: _Optional[float] = ..., missing_phone: _Optional[int] = ..., missing_credit_code: _Optional[int] = ..., stale_records: _Optional[int] = ..., review_queue_size: _Optional[int] = ...) -> None: ...

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
