import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LeadStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LEAD_STATUS_UNSPECIFIED: _ClassVar[LeadStatus]
    LEAD_STATUS_NEW: _ClassVar[LeadStatus]
    LEAD_STATUS_ASSIGNED: _ClassVar[LeadStatus]
    LEAD_STATUS_CLAIMED: _ClassVar[LeadStatus]
    LEAD_STATUS_CONTACTED: _ClassVar[LeadStatus]

class RoutingStrategy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ROUTING_STRATEGY_UNSPECIFIED: _ClassVar[RoutingStrategy]
    ROUTING_STRATEGY_ROUND_ROBIN: _ClassVar[RoutingStrategy]
LEAD_STATUS_UNSPECIFIED: LeadStatus
LEAD_STATUS_NEW: LeadStatus
LEAD_STATUS_ASSIGNED: LeadStatus
LEAD_STATUS_CLAIMED: LeadStatus
LEAD_STATUS_CONTACTED: LeadStatus
ROUTING_STRATEGY_UNSPECIFIED: RoutingStrategy
ROUTING_STRATEGY_ROUND_ROBIN: RoutingStrategy

class Source(_message.Message):
    __slots__ = ("channel", "utm_source", "utm_medium", "utm_campaign", "campaign_id", "referrer")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    UTM_SOURCE_FIELD_NUMBER: _ClassVar[int]
    UTM_MEDIUM_FIELD_NUMBER: _ClassVar[int]
    UTM_CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    CAMPAIGN_ID_FIELD_NUMBER: _ClassVar[int]
    REFERRER_FIELD_NUMBER: _ClassVar[int]
    channel: str
    utm_source: str
    utm_medium: str
    utm_campaign: str
    campaign_id: str
    referrer: str
    def __init__(self, channel: _Optional[str] = ..., utm_source: _Optional[str] = ..., utm_medium: _Optional[str] = ..., utm_campaign: _Optional[str] = ..., campaign_id: _Optional[str] = ..., referrer: _Optional[str] = ...) -> None: ...

class LeadInput(_message.Message):
    __slots__ = ("name", "phone", "email", "company", "province", "city", "industry", "product_interest", "notes", "source")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PHONE_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    COMPANY_FIELD_NUMBER: _ClassVar[int]
    PROVINCE_FIELD_NUMBER: _ClassVar[int]
    CITY_FIELD_NUMBER: _ClassVar[int]
    INDUSTRY_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_INTEREST_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    name: str
    phone: str
    email: str
    company: str
    province: str
    city: str
    industry: str
    product_interest: str
    notes: str
    source: Source
    def __init__(self, name: _Optional[str] = ..., phone: _Optional[str] = ..., email: _Optional[str] = ..., company: _Optional[str] = ..., province: _Optional[str] = ..., city: _Optional[str] = ..., industry: _Optional[str] = ..., product_interest: _Optional[str] = ..., notes: _Optional[str] = ..., source: _Optional[_Union[Source, _Mapping]] = ...) -> None: ...

class TimelineEntry(_message.Message):
    __slots__ = ("step", "at", "detail")
    STEP_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    step: str
    at: _timestamp_pb2.Timestamp
    detail: str
    def __init__(self, step: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., detail: _Optional[str] = ...) -> None: ...

class Lead(_message.Message):
    __slots__ = ("id", "input", "status", "customer_id", "assignee_id", "trace_id", "captured_at", "assigned_at", "claimed_at", "first_contact_at", "timeline")
    ID_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    ASSIGNEE_ID_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    CAPTURED_AT_FIELD_NUMBER: _ClassVar[int]
    ASSIGNED_AT_FIELD_NUMBER: _ClassVar[int]
    CLAIMED_AT_FIELD_NUMBER: _ClassVar[int]
    FIRST_CONTACT_AT_FIELD_NUMBER: _ClassVar[int]
    TIMELINE_FIELD_NUMBER: _ClassVar[int]
    id: str
    input: LeadInput
    status: LeadStatus
    customer_id: str
    assignee_id: str
    trace_id: str
    captured_at: _timestamp_pb2.Timestamp
    assigned_at: _timestamp_pb2.Timestamp
    claimed_at: _timestamp_pb2.Timestamp
    first_contact_at: _timestamp_pb2.Timestamp
    timeline: _containers.RepeatedCompositeFieldContainer[TimelineEntry]
    def __init__(self, id: _Optional[str] = ..., input: _Optional[_Union[LeadInput, _Mapping]] = ..., status: _Optional[_Union[LeadStatus, str]] = ..., customer_id: _Optional[str] = ..., assignee_id: _Optional[str] = ..., trace_id: _Optional[str] = ..., captured_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., assigned_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., claimed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., first_contact_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., timeline: _Optional[_Iterable[_Union[TimelineEntry, _Mapping]]] = ...) -> None: ...

class CaptureLeadRequest(_message.Message):
    __slots__ = ("lead", "idempotency_key")
    LEAD_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    lead: LeadInput
    idempotency_key: str
    def __init__(self, lead: _Optional[_Union[LeadInput, _Mapping]] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class CaptureLeadResponse(_message.Message):
    __slots__ = ("lead", "created")
    LEAD_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    lead: Lead
    created: bool
    def __init__(self, lead: _Optional[_Union[Lead, _Mapping]] = ..., created: _Optional[bool] = ...) -> None: ...

class GetLeadRequest(_message.Message):
    __slots__ = ("lead_id",)
    LEAD_ID_FIELD_NUMBER: _ClassVar[int]
    lead_id: str
    def __init__(self, lead_id: _Optional[str] = ...) -> None: ...

class GetLeadResponse(_message.Message):
    __slots__ = ("lead",)
    LEAD_FIELD_NUMBER: _ClassVar[int]
    lead: Lead
    def __init__(self, lead: _Optional[_Union[Lead, _Mapping]] = ...) -> None: ...

class GetLeadTraceContextRequest(_message.Message):
    __slots__ = ("lead_id",)
    LEAD_ID_FIELD_NUMBER: _ClassVar[int]
    lead_id: str
    def __init__(self, lead_id: _Optional[str] = ...) -> None: ...

class GetLeadTraceContextResponse(_message.Message):
    __slots__ = ("traceparent",)
    TRACEPARENT_FIELD_NUMBER: _ClassVar[int]
    traceparent: str
    def __init__(self, traceparent: _Optional[str] = ...) -> None: ...

class ClaimLeadRequest(_message.Message):
    __slots__ = ("lead_id", "rep_id")
    LEAD_ID_FIELD_NUMBER: _ClassVar[int]
    REP_ID_FIELD_NUMBER: _ClassVar[int]
    lead_id: str
    rep_id: str
    def __init__(self, lead_id: _Optional[str] = ..., rep_id: _Optional[str] = ...) -> None: ...

class ClaimLeadResponse(_message.Message):
    __slots__ = ("lead",)
    LEAD_FIELD_NUMBER: _ClassVar[int]
    lead: Lead
    def __init__(self, lead: _Optional[_Union[Lead, _Mapping]] = ...) -> None: ...

class RecordContactRequest(_message.Message):
    __slots__ = ("lead_id", "rep_id", "channel", "summary")
    LEAD_ID_FIELD_NUMBER: _ClassVar[int]
    REP_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    lead_id: str
    rep_id: str
    channel: str
    summary: str
    def __init__(self, lead_id: _Optional[str] = ..., rep_id: _Optional[str] = ..., channel: _Optional[str] = ..., summary: _Optional[str] = ...) -> None: ...

class RecordContactResponse(_message.Message):
    __slots__ = ("lead", "first_contact")
    LEAD_FIELD_NUMBER: _ClassVar[int]
    FIRST_CONTACT_FIELD_NUMBER: _ClassVar[int]
    lead: Lead
    first_contact: bool
    def __init__(self, lead: _Optional[_Union[Lead, _Mapping]] = ..., first_contact: _Optional[bool] = ...) -> None: ...

class Team(_message.Message):
    __slots__ = ("id", "name")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class CreateTeamRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class CreateTeamResponse(_message.Message):
    __slots__ = ("team",)
    TEAM_FIELD_NUMBER: _ClassVar[int]
    team: Team
    def __init__(self, team: _Optional[_Union[Team, _Mapping]] = ...) -> None: ...

class ListTeamsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListTeamsResponse(_message.Message):
    __slots__ = ("teams",)
    TEAMS_FIELD_NUMBER: _ClassVar[int]
    teams: _containers.RepeatedCompositeFieldContainer[Team]
    def __init__(self, teams: _Optional[_Iterable[_Union[Team, _Mapping]]] = ...) -> None: ...

class Rep(_message.Message):
    __slots__ = ("id", "name", "team_id", "active", "email")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    team_id: str
    active: bool
    email: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., team_id: _Optional[str] = ..., active: _Optional[bool] = ..., email: _Optional[str] = ...) -> None: ...

class CreateRepRequest(_message.Message):
    __slots__ = ("name", "team_id", "email")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    name: str
    team_id: str
    email: str
    def __init__(self, name: _Optional[str] = ..., team_id: _Optional[str] = ..., email: _Optional[str] = ...) -> None: ...

class CreateRepResponse(_message.Message):
    __slots__ = ("rep",)
    REP_FIELD_NUMBER: _ClassVar[int]
    rep: Rep
    def __init__(self, rep: _Optional[_Union[Rep, _Mapping]] = ...) -> None: ...

class ListRepsRequest(_message.Message):
    __slots__ = ("team_id",)
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    team_id: str
    def __init__(self, team_id: _Optional[str] = ...) -> None: ...

class ListRepsResponse(_message.Message):
    __slots__ = ("reps",)
    REPS_FIELD_NUMBER: _ClassVar[int]
    reps: _containers.RepeatedCompositeFieldContainer[Rep]
    def __init__(self, reps: _Optional[_Iterable[_Union[Rep, _Mapping]]] = ...) -> None: ...

class SetRepActiveRequest(_message.Message):
    __slots__ = ("rep_id", "active")
    REP_ID_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    rep_id: str
    active: bool
    def __init__(self, rep_id: _Optional[str] = ..., active: _Optional[bool] = ...) -> None: ...

class SetRepActiveResponse(_message.Message):
    __slots__ = ("rep",)
    REP_FIELD_NUMBER: _ClassVar[int]
    rep: Rep
    def __init__(self, rep: _Optional[_Union[Rep, _Mapping]] = ...) -> None: ...

class RoutingRule(_message.Message):
    __slots__ = ("id", "name", "priority", "conditions", "team_id", "strategy")
    class ConditionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: StringList
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[StringList, _Mapping]] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    CONDITIONS_FIELD_NUMBER: _ClassVar[int]
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    priority: int
    conditions: _containers.MessageMap[str, StringList]
    team_id: str
    strategy: RoutingStrategy
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., priority: _Optional[int] = ..., conditions: _Optional[_Mapping[str, StringList]] = ..., team_id: _Optional[str] = ..., strategy: _Optional[_Union[RoutingStrategy, str]] = ...) -> None: ...

class StringList(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, values: _Optional[_Iterable[str]] = ...) -> None: ...

class PutRoutingRuleRequest(_message.Message):
    __slots__ = ("rule",)
    RULE_FIELD_NUMBER: _ClassVar[int]
    rule: RoutingRule
    def __init__(self, rule: _Optional[_Union[RoutingRule, _Mapping]] = ...) -> None: ...

class PutRoutingRuleResponse(_message.Message):
    __slots__ = ("rule",)
    RULE_FIELD_NUMBER: _ClassVar[int]
    rule: RoutingRule
    def __init__(self, rule: _Optional[_Union[RoutingRule, _Mapping]] = ...) -> None: ...

class ListRoutingRulesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListRoutingRulesResponse(_message.Message):
    __slots__ = ("rules",)
    RULES_FIELD_NUMBER: _ClassVar[int]
    rules: _containers.RepeatedCompositeFieldContainer[RoutingRule]
    def __init__(self, rules: _Optional[_Iterable[_Union[RoutingRule, _Mapping]]] = ...) -> None: ...
