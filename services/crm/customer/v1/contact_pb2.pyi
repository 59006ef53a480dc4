import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ContactSource(_message.Message):
    __slots__ = ("id", "source_system", "source_ref", "name", "phone", "email", "observed_at", "match")
    ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_SYSTEM_FIELD_NUMBER: _ClassVar[int]
    SOURCE_REF_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PHONE_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    OBSERVED_AT_FIELD_NUMBER: _ClassVar[int]
    MATCH_FIELD_NUMBER: _ClassVar[int]
    id: str
    source_system: str
    source_ref: str
    name: str
    phone: str
    email: str
    observed_at: _timestamp_pb2.Timestamp
    match: str
    def __init__(self, id: _Optional[str] = ..., source_system: _Optional[str] = ..., source_ref: _Optional[str] = ..., name: _Optional[str] = ..., phone: _Optional[str] = ..., email: _Optional[str] = ..., observed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., match: _Optional[str] = ...) -> None: ...

class Contact(_message.Message):
    __slots__ = ("id", "customer_id", "name", "phone", "email", "provenance", "rules_version", "created_at", "updated_at", "sources", "merged_into")
    ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PHONE_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    PROVENANCE_FIELD_NUMBER: _ClassVar[int]
    RULES_VERSION_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    MERGED_INTO_FIELD_NUMBER: _ClassVar[int]
    id: str
    customer_id: str
    name: str
    phone: str
    email: str
    provenance: str
    rules_version: int
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    sources: _containers.RepeatedCompositeFieldContainer[ContactSource]
    merged_into: str
    def __init__(self, id: _Optional[str] = ..., customer_id: _Optional[str] = ..., name: _Optional[str] = ..., phone: _Optional[str] = ..., email: _Optional[str] = ..., provenance: _Optional[str] = ..., rules_version: _Optional[int] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., sources: _Optional[_Iterable[_Union[ContactSource, _Mapping]]] = ..., merged_into: _Optional[str] = ...) -> None: ...

class GetContactRequest(_message.Message):
    __slots__ = ("contact_id",)
    CONTACT_ID_FIELD_NUMBER: _ClassVar[int]
    contact_id: str
    def __init__(self, contact_id: _Optional[str] = ...) -> None: ...

class GetContactResponse(_message.Message):
    __slots__ = ("contact",)
    CONTACT_FIELD_NUMBER: _ClassVar[int]
    contact: Contact
    def __init__(self, contact: _Optional[_Union[Contact, _Mapping]] = ...) -> None: ...

class ListContactsRequest(_message.Message):
    __slots__ = ("customer_id", "limit")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    limit: int
    def __init__(self, customer_id: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class ListContactsResponse(_message.Message):
    __slots__ = ("contacts",)
    CONTACTS_FIELD_NUMBER: _ClassVar[int]
    contacts: _containers.RepeatedCompositeFieldContainer[Contact]
    def __init__(self, contacts: _Optional[_Iterable[_Union[Contact, _Mapping]]] = ...) -> None: ...

class MatchContactRequest(_message.Message):
    __slots__ = ("customer_id", "name", "phone", "email", "limit")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PHONE_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    name: str
    phone: str
    email: str
    limit: int
    def __init__(self, customer_id: _Optional[str] = ..., name: _Optional[str] = ..., phone: _Optional[str] = ..., email: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class ContactCandidate(_message.Message):
    __slots__ = ("contact", "score", "decision", "explanation")
    CONTACT_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    EXPLANATION_FIELD_NUMBER: _ClassVar[int]
    contact: Contact
    score: float
    decision: str
    explanation: str
    def __init__(self, contact: _Optional[_Union[Contact, _Mapping]] = ..., score: _Optional[float] = ..., decision: _Optional[str] = ..., explanation: _Optional[str] = ...) -> None: ...

class MatchContactResponse(_message.Message):
    __slots__ = ("candidates",)
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    candidates: _containers.RepeatedCompositeFieldContainer[ContactCandidate]
    def __init__(self, candidates: _Optional[_Iterable[_Union[ContactCandidate, _Mapping]]] = ...) -> None: ...

class GetSurvivorshipRulesRequest(_message.Message):
    __slots__ = ("version",)
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: int
    def __init__(self, version: _Optional[int] = ...) -> None: ...

class GetSurvivorshipRulesResponse(_message.Message):
    __slots__ = ("rules_json", "version", "set_by", "reason", "set_at")
    RULES_JSON_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SET_BY_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    SET_AT_FIELD_NUMBER: _ClassVar[int]
    rules_json: str
    version: int
    set_by: str
    reason: str
    set_at: _timestamp_pb2.Timestamp
    def __init__(self, rules_json: _Optional[str] = ..., version: _Optional[int] = ..., set_by: _Optional[str] = ..., reason: _Optional[str] = ..., set_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SetSurvivorshipRulesRequest(_message.Message):
    __slots__ = ("rules_json", "actor_id", "reason")
    RULES_JSON_FIELD_NUMBER: _ClassVar[int]
    ACTOR_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    rules_json: str
    actor_id: str
    reason: str
    def __init__(self, rules_json: _Optional[str] = ..., actor_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class SetSurvivorshipRulesResponse(_message.Message):
    __slots__ = ("rules_json", "version", "rebuilt", "pending")
    RULES_JSON_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    REBUILT_FIELD_NUMBER: _ClassVar[int]
    PENDING_FIELD_NUMBER: _ClassVar[int]
    rules_json: str
    version: int
    rebuilt: int
    pending: bool
    def __init__(self, rules_json: _Optional[str] = ..., version: _Optional[int] = ..., rebuilt: _Optional[int] = ..., pending: _Optional[bool] = ...) -> None: ...

class MergeContactsRequest(_message.Message):
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

class MergeContactsResponse(_message.Message):
    __slots__ = ("merge_id", "survivor")
    MERGE_ID_FIELD_NUMBER: _ClassVar[int]
    SURVIVOR_FIELD_NUMBER: _ClassVar[int]
    merge_id: str
    survivor: Contact
    def __init__(self, merge_id: _Optional[str] = ..., survivor: _Optional[_Union[Contact, _Mapping]] = ...) -> None: ...

class UnmergeContactsRequest(_message.Message):
    __slots__ = ("merge_id", "actor_id", "reason")
    MERGE_ID_FIELD_NUMBER: _ClassVar[int]
    ACTOR_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    merge_id: str
    actor_id: str
    reason: str
    def __init__(self, merge_id: _Optional[str] = ..., actor_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class UnmergeContactsResponse(_message.Message):
    __slots__ = ("survivor", "restored")
    SURVIVOR_FIELD_NUMBER: _ClassVar[int]
    RESTORED_FIELD_NUMBER: _ClassVar[int]
    survivor: Contact
    restored: Contact
    def __init__(self, survivor: _Optional[_Union[Contact, _Mapping]] = ..., restored: _Optional[_Union[Contact, _Mapping]] = ...) -> None: ...

class GetContactMatchRulesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetContactMatchRulesResponse(_message.Message):
    __slots__ = ("rules_json",)
    RULES_JSON_FIELD_NUMBER: _ClassVar[int]
    rules_json: str
    def __init__(self, rules_json: _Optional[str] = ...) -> None: ...

class SetContactMatchRulesRequest(_message.Message):
    __slots__ = ("rules_json", "actor_id")
    RULES_JSON_FIELD_NUMBER: _ClassVar[int]
    ACTOR_ID_FIELD_NUMBER: _ClassVar[int]
    rules_json: str
    actor_id: str
    def __init__(self, rules_json: _Optional[str] = ..., actor_id: _Optional[str] = ...) -> None: ...

class SetContactMatchRulesResponse(_message.Message):
    __slots__ = ("rules_json",)
    RULES_JSON_FIELD_NUMBER: _ClassVar[int]
    rules_json: str
    def __init__(self, rules_json: _Optional[str] = ...) -> None: ...
