"""In-process test doubles of the peer services: just enough behaviour to exercise the edge."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from crm.integration.v1 import integration_pb2, integration_pb2_grpc
from crm.lead.v1 import lead_pb2, lead_pb2_grpc
from crm.notification.v1 import notification_pb2, notification_pb2_grpc
from crm.pipeline.v1 import pipeline_pb2, pipeline_pb2_grpc
from crm.reporting.v1 import reporting_pb2, reporting_pb2_grpc
from crm_common.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound
from crm_common.identity import Principal, current_principal

ASSIGNEE_ID = str(uuid.UUID("7d0c4a8e-0000-4000-8000-000000000001"))
BAD_PHONE = "12345"


def _now() -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(datetime.now(UTC))
    return stamp


class Recorder:
    """Remembers each call's method name and metadata, so tests can see what the edge sent."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, str]]] = []
        # The verified caller of each call (the server checked its identity token before the double ran).
        self.principals: list[tuple[str, Principal | None]] = []

    def record(self, method: str, context: grpc.aio.ServicerContext) -> None:
        metadata = {k: v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}
        self.calls.append((method, metadata))
        self.principals.append((method, current_principal()))

    def last_caller(self, method: str) -> Principal | None:
        return next(p for name, p in reversed(self.principals) if name == method)

    def last(self, method: str) -> dict[str, str]:
        return next(md for name, md in reversed(self.calls) if name == method)

    def count(self, method: str) -> int:
        return sum(1 for name, _ in self.calls if name == method)


class LeadDouble(lead_pb2_grpc.LeadServiceServicer, Recorder):
    """Captures leads in memory, assigns every one to ASSIGNEE_ID, keeps each one's traceparent."""

    def __init__(self) -> None:
        Recorder.__init__(self)
        self.leads: dict[str, lead_pb2.Lead] = {}
        self.traceparents: dict[str, str] = {}
        self.by_key: dict[str, str] = {}
        self.teams: dict[str, lead_pb2.Team] = {}
        self.reps: dict[str, lead_pb2.Rep] = {}

    async def CaptureLead(self, request: lead_pb2.CaptureLeadRequest, context: grpc.aio.ServicerContext) -> lead_pb2.CaptureLeadResponse:
        self.record("CaptureLead", context)
        if request.lead.phone == BAD_PHONE:
            raise InvalidArgument([FieldViolation("phone", "not a valid phone number")])
        if request.idempotency_key in self.by_key:
            return lead_pb2.CaptureLeadResponse(lead=self.leads[self.by_key[request.idempotency_key]], created=False)
        # Like the real service: the capture joins the caller's trace when there is one.
        incoming = dict(context.invocation_metadata() or ()).get("traceparent")
        traceparent = incoming or f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"
        lead = lead_pb2.Lead(
            id=str(uuid.uuid4()),
            input=request.lead,
            status=lead_pb2.LEAD_STATUS_ASSIGNED,
            customer_id=str(uuid.uuid4()),
            assignee_id=ASSIGNEE_ID,
            trace_id=traceparent.split("-")[1],
            captured_at=_now(),
            assigned_at=_now(),
            timeline=[lead_pb2.TimelineEntry(step="captured", at=_now(), detail="form")],
        )
        self.leads[lead.id] = lead
        self.traceparents[lead.id] = traceparent
        if request.idempotency_key:
            self.by_key[request.idempotency_key] = lead.id
        return lead_pb2.CaptureLeadResponse(lead=lead, created=True)

    def _lead(self, lead_id: str) -> lead_pb2.Lead:
        if lead_id not in self.leads:
            raise NotFound(f"no lead {lead_id}")
        return self.leads[lead_id]

    async def GetLead(self, request: lead_pb2.GetLeadRequest, context: grpc.aio.ServicerContext) -> lead_pb2.GetLeadResponse:
        self.record("GetLead", context)
        return lead_pb2.GetLeadResponse(lead=self._lead(request.lead_id))

    async def GetLeadTraceContext(
        self, request: lead_pb2.GetLeadTraceContextRequest, context: grpc.aio.ServicerContext
    ) -> lead_pb2.GetLeadTraceContextResponse:
        self.record("GetLeadTraceContext", context)
        self._lead(request.lead_id)
        return lead_pb2.GetLeadTraceContextResponse(traceparent=self.traceparents[request.lead_id])

    async def ClaimLead(self, request: lead_pb2.ClaimLeadRequest, context: grpc.aio.ServicerContext) -> lead_pb2.ClaimLeadResponse:
        self.record("ClaimLead", context)
        lead = self._lead(request.lead_id)
        if request.rep_id != lead.assignee_id:
            raise FailedPrecondition("the lead is assigned to another rep")
        lead.status = lead_pb2.LEAD_STATUS_CLAIMED
        lead.claimed_at.CopyFrom(_now())
        return lead_pb2.ClaimLeadResponse(lead=lead)

    async def RecordContact(
        self, request: lead_pb2.RecordContactRequest, context: grpc.aio.ServicerContext
    ) -> lead_pb2.RecordContactResponse:
        self.record("RecordContact", context)
        lead = self._lead(request.lead_id)
        first = not lead.HasField("first_contact_at")
        if first:
            lead.first_contact_at.CopyFrom(_now())
            lead.status = lead_pb2.LEAD_STATUS_CONTACTED
        return lead_pb2.RecordContactResponse(lead=lead, first_contact=first)

    async def CreateTeam(self, request: lead_pb2.CreateTeamRequest, context: grpc.aio.ServicerContext) -> lead_pb2.CreateTeamResponse:
        team = lead_pb2.Team(id=str(uuid.uuid4()), name=request.name)
        self.teams[team.id] = team
        return lead_pb2.CreateTeamResponse(team=team)

    async def ListTeams(self, request: lead_pb2.ListTeamsRequest, context: grpc.aio.ServicerContext) -> lead_pb2.ListTeamsResponse:
        return lead_pb2.ListTeamsResponse(teams=list(self.teams.values()))

    async def CreateRep(self, request: lead_pb2.CreateRepRequest, context: grpc.aio.ServicerContext) -> lead_pb2.CreateRepResponse:
        if request.team_id not in self.teams:
            raise InvalidArgument([FieldViolation("team_id", "no such team")])
        rep = lead_pb2.Rep(id=str(uuid.uuid4()), name=request.name, team_id=request.team_id, active=True, email=request.email)
        self.reps[rep.id] = rep
        return lead_pb2.CreateRepResponse(rep=rep)

    async def ListReps(self, request: lead_pb2.ListRepsRequest, context: grpc.aio.ServicerContext) -> lead_pb2.ListRepsResponse:
        reps = [r for r in self.reps.values() if not request.team_id or r.team_id == request.team_id]
        return lead_pb2.ListRepsResponse(reps=reps)

    async def SetRepActive(self, request: lead_pb2.SetRepActiveRequest, context: grpc.aio.ServicerContext) -> lead_pb2.SetRepActiveResponse:
        if request.rep_id not in self.reps:
            raise NotFound(f"no rep {request.rep_id}")
        self.reps[request.rep_id].active = request.active
        return lead_pb2.SetRepActiveResponse(rep=self.reps[request.rep_id])


class IntegrationDouble(integration_pb2_grpc.IntegrationServiceServicer, Recorder):
    """Accepts any webhook; a repeated idempotency key answers the first receipt."""

    def __init__(self) -> None:
        Recorder.__init__(self)
        self.receipts: dict[str, integration_pb2.WebhookReceipt] = {}
        self.payloads: list[dict[str, object]] = []

    async def ReceiveWebhook(
        self, request: integration_pb2.ReceiveWebhookRequest, context: grpc.aio.ServicerContext
    ) -> integration_pb2.ReceiveWebhookResponse:
        self.record("ReceiveWebhook", context)
        from google.protobuf.json_format import MessageToDict

        self.payloads.append(MessageToDict(request.payload))
        key = request.idempotency_key
        if key and key in self.receipts:
            return integration_pb2.ReceiveWebhookResponse(receipt=self.receipts[key], created=False)
        receipt = integration_pb2.WebhookReceipt(
            id=str(uuid.uuid4()), source=request.source, lead_id=str(uuid.uuid4()), status="captured",
            received_at=_now(),
        )
        if key:
            self.receipts[key] = receipt
        return integration_pb2.ReceiveWebhookResponse(receipt=receipt, created=True)


class ReportingDouble(reporting_pb2_grpc.ReportingServiceServicer, Recorder):
    """Answers fixed figures and keeps the last request."""

    def __init__(self) -> None:
        Recorder.__init__(self)
        self.last_request: reporting_pb2.GetLeadResponseReportRequest | None = None

    async def GetLeadResponseReport(
        self, request: reporting_pb2.GetLeadResponseReportRequest, context: grpc.aio.ServicerContext
    ) -> reporting_pb2.GetLeadResponseReportResponse:
        self.last_request = request
        return reporting_pb2.GetLeadResponseReportResponse(
            leads_captured=12,
            time_to_assignment=reporting_pb2.DurationStats(count=12, p50_seconds=0.4, p90_seconds=1.5),
            time_to_first_contact=reporting_pb2.DurationStats(count=3, p50_seconds=600, p90_seconds=3000),
            computed_at=_now(),
        )


class NotificationDouble(notification_pb2_grpc.NotificationServiceServicer):
    """Every lead has had one notification, delivered at the second attempt."""

    async def ListNotifications(
        self, request: notification_pb2.ListNotificationsRequest, context: grpc.aio.ServicerContext
    ) -> notification_pb2.ListNotificationsResponse:
        attempts = [
            notification_pb2.Attempt(number=1, channel="sms", outcome="failed", detail="timeout", at=_now()),
            notification_pb2.Attempt(number=2, channel="sms", outcome="delivered", at=_now()),
        ]
        return notification_pb2.ListNotificationsResponse(
            notifications=[
                notification_pb2.Notification(
                    id=str(uuid.uuid4()), recipient_id=ASSIGNEE_ID, channel="sms", lead_id=request.lead_id,
                    kind="lead_assigned", status=notification_pb2.NOTIFICATION_STATUS_DELIVERED,
                    attempts=attempts, created_at=_now(), delivered_at=_now(),
                )
            ]
        )


class PipelineDouble(pipeline_pb2_grpc.PipelineServiceServicer):
    """Every lead has one open opportunity."""

    async def ListOpportunities(
        self, request: pipeline_pb2.ListOpportunitiesRequest, context: grpc.aio.ServicerContext
    ) -> pipeline_pb2.ListOpportunitiesResponse:
        return pipeline_pb2.ListOpportunitiesResponse(
            opportunities=[
                pipeline_pb2.Opportunity(
                    id=str(uuid.uuid4()), lead_id=request.lead_id, owner_id=ASSIGNEE_ID, stage="qualification",
                    opened_at=_now(),
                )
            ]
        )
