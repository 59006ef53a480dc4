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
    LEAD_STATUS_POOL: _ClassVar[LeadStatus]

class RoutingStrategy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ROUTING_STRATEGY_UNSPECIFIED: _ClassVar[RoutingStrategy]
    ROUTING_STRATEGY_ROUND_ROBIN: _ClassVar[RoutingStrategy]
    ROUTING_STRATEGY_LEAST_OPEN: _ClassVar[RoutingStrategy]
    ROUTING_STRATEGY_SKILLS_MATCH: _ClassVar[RoutingStrategy]
LEAD_STATUS_UNSPECIFIED: LeadStatus
LEAD_STATUS_NEW: LeadStatus
LEAD_STATUS_ASSIGNED: LeadStatus
LEAD_STATUS_CLAIMED: LeadStatus
LEAD_STATUS_CONTACTED: LeadStatus
LEAD_STATUS_POOL: LeadStatus
ROUTING_STRATEGY_UNSPECIFIED: RoutingStrategy
ROUTING_STRATEGY_ROUND_ROBIN: RoutingStrategy
ROUTING_STRATEGY_LEAST_OPEN: RoutingStrategy
ROUTING_STRATEGY_SKILLS_MATCH: RoutingStrategy

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
    __slots__ = ("name", "phone", "email", "company", "province", "city", "industry", "product_interest", "notes", "source", "customer_tier")
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
    CUSTOMER_TIER_FIELD_NUMBER: _ClassVar[int]
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
    customer_tier: str
    def __init__(self, name: _Optional[str] = ..., phone: _Optional[str] = ..., email: _Optional[str] = ..., company: _Optional[str] = ..., province: _Optional[str] = ..., city: _Optional[str] = ..., industry: _Optional[str] = ..., product_interest: _Optional[str] = ..., notes: _Optional[str] = ..., source: _Optional[_Union[Source, _Mapping]] = ..., customer_tier: _Optional[str] = ...) -> None: ...

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
    __slots__ = ("id", "input", "status", "customer_id", "assignee_id", "trace_id", "captured_at", "assigned_at", "claimed_at", "first_contact_at", "timeline", "score", "score_parts", "location_inferred", "claim_deadline_at", "first_contact_deadline_at", "pool_return_at", "team_id", "touches")
    class ScorePartsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
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
    SCORE_FIELD_NUMBER: _ClassVar[int]
    SCORE_PARTS_FIELD_NUMBER: _ClassVar[int]
    LOCATION_INFERRED_FIELD_NUMBER: _ClassVar[int]
    CLAIM_DEADLINE_AT_FIELD_NUMBER: _ClassVar[int]
    FIRST_CONTACT_DEADLINE_AT_FIELD_NUMBER: _ClassVar[int]
    POOL_RETURN_AT_FIELD_NUMBER: _ClassVar[int]
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    TOUCHES_FIELD_NUMBER: _ClassVar[int]
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
    score: int
    score_parts: _containers.ScalarMap[str, float]
    location_inferred: bool
    claim_deadline_at: _timestamp_pb2.Timestamp
    first_contact_deadline_at: _timestamp_pb2.Timestamp
    pool_return_at: _timestamp_pb2.Timestamp
    team_id: str
    touches: int
    def __init__(self, id: _Optional[str] = ..., input: _Optional[_Union[LeadInput, _Mapping]] = ..., status: _Optional[_Union[LeadStatus, str]] = ..., customer_id: _Optional[str] = ..., assignee_id: _Optional[str] = ..., trace_id: _Optional[str] = ..., captured_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., assigned_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., claimed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., first_contact_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., timeline: _Optional[_Iterable[_Union[TimelineEntry, _Mapping]]] = ..., score: _Optional[int] = ..., score_parts: _Optional[_Mapping[str, float]] = ..., location_inferred: _Optional[bool] = ..., claim_deadline_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., first_contact_deadline_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., pool_return_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., team_id: _Optional[str] = ..., touches: _Optional[int] = ...) -> None: ...

class QuarantinedSubmission(_message.Message):
    __slots__ = ("id", "input", "reasons", "status", "received_at", "released_lead_id")
    ID_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_AT_FIELD_NUMBER: _ClassVar[int]
    RELEASED_LEAD_ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    input: LeadInput
    reasons: _containers.RepeatedScalarFieldContainer[str]
    status: str
    received_at: _timestamp_pb2.Timestamp
    released_lead_id: str
    def __init__(self, id: _Optional[str] = ..., input: _Optional[_Union[LeadInput, _Mapping]] = ..., reasons: _Optional[_Iterable[str]] = ..., status: _Optional[str] = ..., received_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., released_lead_id: _Optional[str] = ...) -> None: ...

class CaptureLeadRequest(_message.Message):
    __slots__ = ("lead", "idempotency_key")
    LEAD_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    lead: LeadInput
    idempotency_key: str
    def __init__(self, lead: _Optional[_Union[LeadInput, _Mapping]] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class CaptureLeadResponse(_message.Message):
    __slots__ = ("lead", "created", "quarantined", "quarantine", "duplicate")
    LEAD_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    QUARANTINED_FIELD_NUMBER: _ClassVar[int]
    QUARANTINE_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    lead: Lead
    created: bool
    quarantined: bool
    quarantine: QuarantinedSubmission
    duplicate: bool
    def __init__(self, lead: _Optional[_Union[Lead, _Mapping]] = ..., created: _Optional[bool] = ..., quarantined: _Optional[bool] = ..., quarantine: _Optional[_Union[QuarantinedSubmission, _Mapping]] = ..., duplicate: _Optional[bool] = ...) -> None: ...

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
    __slots__ = ("id", "name", "manager_id", "calendar", "territories")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    MANAGER_ID_FIELD_NUMBER: _ClassVar[int]
    CALENDAR_FIELD_NUMBER: _ClassVar[int]
    TERRITORIES_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    manager_id: str
    calendar: WorkCalendar
    territories: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., manager_id: _Optional[str] = ..., calendar: _Optional[_Union[WorkCalendar, _Mapping]] = ..., territories: _Optional[_Iterable[str]] = ...) -> None: ...

class WorkCalendar(_message.Message):
    __slots__ = ("timezone", "workdays", "start", "end", "holidays", "makeup_workdays")
    TIMEZONE_FIELD_NUMBER: _ClassVar[int]
    WORKDAYS_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    HOLIDAYS_FIELD_NUMBER: _ClassVar[int]
    MAKEUP_WORKDAYS_FIELD_NUMBER: _ClassVar[int]
    timezone: str
    workdays: _containers.RepeatedScalarFieldContainer[int]
    start: str
    end: str
    holidays: _containers.RepeatedScalarFieldContainer[str]
    makeup_workdays: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, timezone: _Optional[str] = ..., workdays: _Optional[_Iterable[int]] = ..., start: _Optional[str] = ..., end: _Optional[str] = ..., holidays: _Optional[_Iterable[str]] = ..., makeup_workdays: _Optional[_Iterable[str]] = ...) -> None: ...

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
    __slots__ = ("id", "name", "team_id", "active", "email", "capacity", "skills", "weight", "on_leave", "leave_until", "holding_limit", "open_leads")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_FIELD_NUMBER: _ClassVar[int]
    SKILLS_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    ON_LEAVE_FIELD_NUMBER: _ClassVar[int]
    LEAVE_UNTIL_FIELD_NUMBER: _ClassVar[int]
    HOLDING_LIMIT_FIELD_NUMBER: _ClassVar[int]
    OPEN_LEADS_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    team_id: str
    active: bool
    email: str
    capacity: int
    skills: _containers.RepeatedScalarFieldContainer[str]
    weight: int
    on_leave: bool
    leave_until: _timestamp_pb2.Timestamp
    holding_limit: int
    open_leads: int
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., team_id: _Optional[str] = ..., active: _Optional[bool] = ..., email: _Optional[str] = ..., capacity: _Optional[int] = ..., skills: _Optional[_Iterable[str]] = ..., weight: _Optional[int] = ..., on_leave: _Optional[bool] = ..., leave_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., holding_limit: _Optional[int] = ..., open_leads: _Optional[int] = ...) -> None: ...

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
    __slots__ = ("rep_id", "active", "successor_rep_id")
    REP_ID_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    SUCCESSOR_REP_ID_FIELD_NUMBER: _ClassVar[int]
    rep_id: str
    active: bool
    successor_rep_id: str
    def __init__(self, rep_id: _Optional[str] = ..., active: _Optional[bool] = ..., successor_rep_id: _Optional[str] = ...) -> None: ...

class SetRepActiveResponse(_message.Message):
    __slots__ = ("rep", "moved_leads")
    REP_FIELD_NUMBER: _ClassVar[int]
    MOVED_LEADS_FIELD_NUMBER: _ClassVar[int]
    rep: Rep
    moved_leads: int
    def __init__(self, rep: _Optional[_Union[Rep, _Mapping]] = ..., moved_leads: _Optional[int] = ...) -> None: ...

class RoutingRule(_message.Message):
    __slots__ = ("id", "name", "priority", "conditions", "team_id", "strategy", "to_pool", "overflow_team_id", "min_score", "max_score", "required_skills")
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
    TO_POOL_FIELD_NUMBER: _ClassVar[int]
    OVERFLOW_TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    MIN_SCORE_FIELD_NUMBER: _ClassVar[int]
    MAX_SCORE_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_SKILLS_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    priority: int
    conditions: _containers.MessageMap[str, StringList]
    team_id: str
    strategy: RoutingStrategy
    to_pool: bool
    overflow_team_id: str
    min_score: int
    max_score: int
    required_skills: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., priority: _Optional[int] = ..., conditions: _Optional[_Mapping[str, StringList]] = ..., team_id: _Optional[str] = ..., strategy: _Optional[_Union[RoutingStrategy, str]] = ..., to_pool: _Optional[bool] = ..., overflow_team_id: _Optional[str] = ..., min_score: _Optional[int] = ..., max_score: _Optional[int] = ..., required_skills: _Optional[_Iterable[str]] = ...) -> None: ...

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
    __slots__ = ("rules", "version")
    RULES_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    rules: _containers.RepeatedCompositeFieldContainer[RoutingRule]
    version: int
    def __init__(self, rules: _Optional[_Iterable[_Union[RoutingRule, _Mapping]]] = ..., version: _Optional[int] = ...) -> None: ...

class UpdateTeamRequest(_message.Message):
    __slots__ = ("team_id", "manager_id", "calendar", "territories", "replace_territories", "clear_calendar")
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    MANAGER_ID_FIELD_NUMBER: _ClassVar[int]
    CALENDAR_FIELD_NUMBER: _ClassVar[int]
    TERRITORIES_FIELD_NUMBER: _ClassVar[int]
    REPLACE_TERRITORIES_FIELD_NUMBER: _ClassVar[int]
    CLEAR_CALENDAR_FIELD_NUMBER: _ClassVar[int]
    team_id: str
    manager_id: str
    calendar: WorkCalendar
    territories: _containers.RepeatedScalarFieldContainer[str]
    replace_territories: bool
    clear_calendar: bool
    def __init__(self, team_id: _Optional[str] = ..., manager_id: _Optional[str] = ..., calendar: _Optional[_Union[WorkCalendar, _Mapping]] = ..., territories: _Optional[_Iterable[str]] = ..., replace_territories: _Optional[bool] = ..., clear_calendar: _Optional[bool] = ...) -> None: ...

class UpdateTeamResponse(_message.Message):
    __slots__ = ("team",)
    TEAM_FIELD_NUMBER: _ClassVar[int]
    team: Team
    def __init__(self, team: _Optional[_Union[Team, _Mapping]] = ...) -> None: ...

class UpdateRepRequest(_message.Message):
    __slots__ = ("rep_id", "capacity", "weight", "on_leave", "leave_until", "holding_limit", "skills", "replace_skills", "team_id")
    REP_ID_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    ON_LEAVE_FIELD_NUMBER: _ClassVar[int]
    LEAVE_UNTIL_FIELD_NUMBER: _ClassVar[int]
    HOLDING_LIMIT_FIELD_NUMBER: _ClassVar[int]
    SKILLS_FIELD_NUMBER: _ClassVar[int]
    REPLACE_SKILLS_FIELD_NUMBER: _ClassVar[int]
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    rep_id: str
    capacity: int
    weight: int
    on_leave: bool
    leave_until: _timestamp_pb2.Timestamp
    holding_limit: int
    skills: _containers.RepeatedScalarFieldContainer[str]
    replace_skills: bool
    team_id: str
    def __init__(self, rep_id: _Optional[str] = ..., capacity: _Optional[int] = ..., weight: _Optional[int] = ..., on_leave: _Optional[bool] = ..., leave_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., holding_limit: _Optional[int] = ..., skills: _Optional[_Iterable[str]] = ..., replace_skills: _Optional[bool] = ..., team_id: _Optional[str] = ...) -> None: ...

class UpdateRepResponse(_message.Message):
    __slots__ = ("rep",)
    REP_FIELD_NUMBER: _ClassVar[int]
    rep: Rep
    def __init__(self, rep: _Optional[_Union[Rep, _Mapping]] = ...) -> None: ...

class RuleProblem(_message.Message):
    __slots__ = ("rule", "kind", "message")
    RULE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    rule: str
    kind: str
    message: str
    def __init__(self, rule: _Optional[str] = ..., kind: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class ValidateRoutingRulesRequest(_message.Message):
    __slots__ = ("rules",)
    RULES_FIELD_NUMBER: _ClassVar[int]
    rules: _containers.RepeatedCompositeFieldContainer[RoutingRule]
    def __init__(self, rules: _Optional[_Iterable[_Union[RoutingRule, _Mapping]]] = ...) -> None: ...

class ValidateRoutingRulesResponse(_message.Message):
    __slots__ = ("problems",)
    PROBLEMS_FIELD_NUMBER: _ClassVar[int]
    problems: _containers.RepeatedCompositeFieldContainer[RuleProblem]
    def __init__(self, problems: _Optional[_Iterable[_Union[RuleProblem, _Mapping]]] = ...) -> None: ...

class PublishRoutingRulesRequest(_message.Message):
    __slots__ = ("rules", "expected_version", "published_by")
    RULES_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    PUBLISHED_BY_FIELD_NUMBER: _ClassVar[int]
    rules: _containers.RepeatedCompositeFieldContainer[RoutingRule]
    expected_version: int
    published_by: str
    def __init__(self, rules: _Optional[_Iterable[_Union[RoutingRule, _Mapping]]] = ..., expected_version: _Optional[int] = ..., published_by: _Optional[str] = ...) -> None: ...

class PublishRoutingRulesResponse(_message.Message):
    __slots__ = ("version", "rules")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    RULES_FIELD_NUMBER: _ClassVar[int]
    version: int
    rules: _containers.RepeatedCompositeFieldContainer[RoutingRule]
    def __init__(self, version: _Optional[int] = ..., rules: _Optional[_Iterable[_Union[RoutingRule, _Mapping]]] = ...) -> None: ...

class DryRunRoutingRequest(_message.Message):
    __slots__ = ("rules", "days", "leads")
    RULES_FIELD_NUMBER: _ClassVar[int]
    DAYS_FIELD_NUMBER: _ClassVar[int]
    LEADS_FIELD_NUMBER: _ClassVar[int]
    rules: _containers.RepeatedCompositeFieldContainer[RoutingRule]
    days: int
    leads: _containers.RepeatedCompositeFieldContainer[LeadInput]
    def __init__(self, rules: _Optional[_Iterable[_Union[RoutingRule, _Mapping]]] = ..., days: _Optional[int] = ..., leads: _Optional[_Iterable[_Union[LeadInput, _Mapping]]] = ...) -> None: ...

class DryRunOutcome(_message.Message):
    __slots__ = ("lead_id", "rule_name", "team_id", "rep_id", "to_pool", "explanation", "current_rep_id")
    LEAD_ID_FIELD_NUMBER: _ClassVar[int]
    RULE_NAME_FIELD_NUMBER: _ClassVar[int]
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    REP_ID_FIELD_NUMBER: _ClassVar[int]
    TO_POOL_FIELD_NUMBER: _ClassVar[int]
    EXPLANATION_FIELD_NUMBER: _ClassVar[int]
    CURRENT_REP_ID_FIELD_NUMBER: _ClassVar[int]
    lead_id: str
    rule_name: str
    team_id: str
    rep_id: str
    to_pool: bool
    explanation: str
    current_rep_id: str
    def __init__(self, lead_id: _Optional[str] = ..., rule_name: _Optional[str] = ..., team_id: _Optional[str] = ..., rep_id: _Optional[str] = ..., to_pool: _Optional[bool] = ..., explanation: _Optional[str] = ..., current_rep_id: _Optional[str] = ...) -> None: ...

class DryRunRoutingResponse(_message.Message):
    __slots__ = ("outcomes", "load_per_rep", "problems")
    class LoadPerRepEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    OUTCOMES_FIELD_NUMBER: _ClassVar[int]
    LOAD_PER_REP_FIELD_NUMBER: _ClassVar[int]
    PROBLEMS_FIELD_NUMBER: _ClassVar[int]
    outcomes: _containers.RepeatedCompositeFieldContainer[DryRunOutcome]
    load_per_rep: _containers.ScalarMap[str, int]
    problems: _containers.RepeatedCompositeFieldContainer[RuleProblem]
    def __init__(self, outcomes: _Optional[_Iterable[_Union[DryRunOutcome, _Mapping]]] = ..., load_per_rep: _Optional[_Mapping[str, int]] = ..., problems: _Optional[_Iterable[_Union[RuleProblem, _Mapping]]] = ...) -> None: ...

class ExplainRoutingRequest(_message.Message):
    __slots__ = ("lead_id",)
    LEAD_ID_FIELD_NUMBER: _ClassVar[int]
    lead_id: str
    def __init__(self, lead_id: _Optional[str] = ...) -> None: ...

class IneligibleRep(_message.Message):
    __slots__ = ("rep_id", "reason")
    REP_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    rep_id: str
    reason: str
    def __init__(self, rep_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class RoutingDecision(_message.Message):
    __slots__ = ("at", "trigger", "rule_id", "rule_name", "rule_version", "strategy", "team_id", "chosen_rep_id", "eligible_rep_ids", "ineligible", "explanation", "to_pool")
    AT_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_FIELD_NUMBER: _ClassVar[int]
    RULE_ID_FIELD_NUMBER: _ClassVar[int]
    RULE_NAME_FIELD_NUMBER: _ClassVar[int]
    RULE_VERSION_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    CHOSEN_REP_ID_FIELD_NUMBER: _ClassVar[int]
    ELIGIBLE_REP_IDS_FIELD_NUMBER: _ClassVar[int]
    INELIGIBLE_FIELD_NUMBER: _ClassVar[int]
    EXPLANATION_FIELD_NUMBER: _ClassVar[int]
    TO_POOL_FIELD_NUMBER: _ClassVar[int]
    at: _timestamp_pb2.Timestamp
    trigger: str
    rule_id: str
    rule_name: str
    rule_version: int
    strategy: str
    team_id: str
    chosen_rep_id: str
    eligible_rep_ids: _containers.RepeatedScalarFieldContainer[str]
    ineligible: _containers.RepeatedCompositeFieldContainer[IneligibleRep]
    explanation: str
    to_pool: bool
    def __init__(self, at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., trigger: _Optional[str] = ..., rule_id: _Optional[str] = ..., rule_name: _Optional[str] = ..., rule_version: _Optional[int] = ..., strategy: _Optional[str] = ..., team_id: _Optional[str] = ..., chosen_rep_id: _Optional[str] = ..., eligible_rep_ids: _Optional[_Iterable[str]] = ..., ineligible: _Optional[_Iterable[_Union[IneligibleRep, _Mapping]]] = ..., explanation: _Optional[str] = ..., to_pool: _Optional[bool] = ...) -> None: ...

class ExplainRoutingResponse(_message.Message):
    __slots__ = ("decisions",)
    DECISIONS_FIELD_NUMBER: _ClassVar[int]
    decisions: _containers.RepeatedCompositeFieldContainer[RoutingDecision]
    def __init__(self, decisions: _Optional[_Iterable[_Union[RoutingDecision, _Mapping]]] = ...) -> None: ...

class ReassignLeadRequest(_message.Message):
    __slots__ = ("lead_id", "to_rep_id", "reason")
    LEAD_ID_FIELD_NUMBER: _ClassVar[int]
    TO_REP_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    lead_id: str
    to_rep_id: str
    reason: str
    def __init__(self, lead_id: _Optional[str] = ..., to_rep_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class ReassignLeadResponse(_message.Message):
    __slots__ = ("lead",)
    LEAD_FIELD_NUMBER: _ClassVar[int]
    lead: Lead
    def __init__(self, lead: _Optional[_Union[Lead, _Mapping]] = ...) -> None: ...

class ListQuarantineRequest(_message.Message):
    __slots__ = ("all",)
    ALL_FIELD_NUMBER: _ClassVar[int]
    all: bool
    def __init__(self, all: _Optional[bool] = ...) -> None: ...

class ListQuarantineResponse(_message.Message):
    __slots__ = ("submissions",)
    SUBMISSIONS_FIELD_NUMBER: _ClassVar[int]
    submissions: _containers.RepeatedCompositeFieldContainer[QuarantinedSubmission]
    def __init__(self, submissions: _Optional[_Iterable[_Union[QuarantinedSubmission, _Mapping]]] = ...) -> None: ...

class ReleaseQuarantinedRequest(_message.Message):
    __slots__ = ("quarantine_id",)
    QUARANTINE_ID_FIELD_NUMBER: _ClassVar[int]
    quarantine_id: str
    def __init__(self, quarantine_id: _Optional[str] = ...) -> None: ...

class ReleaseQuarantinedResponse(_message.Message):
    __slots__ = ("lead",)
    LEAD_FIELD_NUMBER: _ClassVar[int]
    lead: Lead
    def __init__(self, lead: _Optional[_Union[Lead, _Mapping]] = ...) -> None: ...

class ListPoolRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class PooledLead(_message.Message):
    __slots__ = ("id", "name", "company", "masked_phone", "masked_email", "province", "city", "industry", "score", "pooled_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    COMPANY_FIELD_NUMBER: _ClassVar[int]
    MASKED_PHONE_FIELD_NUMBER: _ClassVar[int]
    MASKED_EMAIL_FIELD_NUMBER: _ClassVar[int]
    PROVINCE_FIELD_NUMBER: _ClassVar[int]
    CITY_FIELD_NUMBER: _ClassVar[int]
    INDUSTRY_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    POOLED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    company: str
    masked_phone: str
    masked_email: str
    province: str
    city: str
    industry: str
    score: int
    pooled_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., company: _Optional[str] = ..., masked_phone: _Optional[str] = ..., masked_email: _Optional[str] = ..., province: _Optional[str] = ..., city: _Optional[str] = ..., industry: _Optional[str] = ..., score: _Optional[int] = ..., pooled_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListPoolResponse(_message.Message):
    __slots__ = ("leads",)
    LEADS_FIELD_NUMBER: _ClassVar[int]
    leads: _containers.RepeatedCompositeFieldContainer[PooledLead]
    def __init__(self, leads: _Optional[_Iterable[_Union[PooledLead, _Mapping]]] = ...) -> None: ...

class ClaimFromPoolRequest(_message.Message):
    __slots__ = ("lead_id", "rep_id")
    LEAD_ID_FIELD_NUMBER: _ClassVar[int]
    REP_ID_FIELD_NUMBER: _ClassVar[int]
    lead_id: str
    rep_id: str
    def __init__(self, lead_id: _Optional[str] = ..., rep_id: _Optional[str] = ...) -> None: ...

class ClaimFromPoolResponse(_message.Message):
    __slots__ = ("lead",)
    LEAD_FIELD_NUMBER: _ClassVar[int]
    lead: Lead
    def __init__(self, lead: _Optional[_Union[Lead, _Mapping]] = ...) -> None: ...
