"""Leads: capture, read, claim, record contacts, and what happened downstream (notifications, deals)."""

from __future__ import annotations

from fastapi import APIRouter, Body, Response
from fastapi.responses import JSONResponse

from crm.lead.v1 import lead_pb2
from crm.notification.v1 import notification_pb2
from crm.pipeline.v1 import pipeline_pb2
from gateway import convert, schemas
from gateway.api.deps import (
    IdempotencyKeyDep,
    LeadActDep,
    LeadClientDep,
    LeadCreateDep,
    LeadIdDep,
    LeadReadDep,
    NotificationClientDep,
    NotificationReadDep,
    OpportunityReadDep,
    PipelineClientDep,
)
from gateway.api.routes.routing import quarantined_capture
from gateway.core.peers import CALL_DEADLINE_SECONDS, CAPTURE_DEADLINE_SECONDS
from gateway.core.security import acting_rep_id

router = APIRouter(prefix="/v1/leads", tags=["leads"])


@router.post(
    "",
    status_code=201,
    response_model=schemas.CapturedLeadOut,
    responses={
        200: {
            "model": schemas.CapturedLeadOut,
            "description": "A repeat (Idempotency-Key, or the same phone or email "
            "and channel within the duplicate window): the first lead, with the repeat attached as a touch",
        },
        202: {"description": "Kept in quarantine: it failed a business rule (reasons in the body)"},
    },
)
async def capture_lead(
    body: schemas.LeadIn,
    response: Response,
    _caller: LeadCreateDep,
    lead_client: LeadClientDep,
    idempotency_key: IdempotencyKeyDep = None,
) -> schemas.CapturedLeadOut | JSONResponse:
    """Capture a lead: it is validated, matched to a customer, scored and routed before the answer."""
    reply = await lead_client.CaptureLead(
        lead_pb2.CaptureLeadRequest(lead=convert.lead_input(body), idempotency_key=idempotency_key or ""),
        timeout=CAPTURE_DEADLINE_SECONDS,
    )
    if reply.quarantined:
        # Kept, never dropped: an operator sees it in /v1/quarantine and may release it.
        location = f"/v1/quarantine/{reply.quarantine.id}"
        return JSONResponse(quarantined_capture(reply), status_code=202, headers={"Location": location})
    response.status_code = 201 if reply.created else 200
    response.headers["Location"] = f"/v1/leads/{reply.lead.id}"
    return convert.captured_lead(reply)


@router.get("/{lead_id}", response_model=schemas.LeadOut)
async def get_lead(lead_id: LeadIdDep, _caller: LeadReadDep, lead_client: LeadClientDep) -> schemas.LeadOut:
    """A lead with its timeline and the id of its trace."""
    reply = await lead_client.GetLead(lead_pb2.GetLeadRequest(lead_id=lead_id), timeout=CALL_DEADLINE_SECONDS)
    return convert.lead(reply.lead)


@router.post("/{lead_id}/claim", response_model=schemas.LeadOut)
async def claim_lead(
    lead_id: LeadIdDep,
    caller: LeadActDep,
    lead_client: LeadClientDep,
    body: schemas.ClaimIn | None = Body(default=None),
) -> schemas.LeadOut:
    """Claim a lead: a sales rep claims for itself, other roles name the rep."""
    rep_id = acting_rep_id(caller, body.rep_id if body else None)
    reply = await lead_client.ClaimLead(
        lead_pb2.ClaimLeadRequest(lead_id=lead_id, rep_id=rep_id), timeout=CALL_DEADLINE_SECONDS
    )
    return convert.lead(reply.lead)


@router.post("/{lead_id}/contacts", status_code=201, response_model=schemas.ContactOut)
async def record_contact(
    lead_id: LeadIdDep, body: schemas.ContactIn, caller: LeadActDep, lead_client: LeadClientDep
) -> schemas.ContactOut:
    """Record a contact with the prospect; the first one stops the first-contact clock."""
    rep_id = acting_rep_id(caller, body.rep_id)
    reply = await lead_client.RecordContact(
        lead_pb2.RecordContactRequest(lead_id=lead_id, rep_id=rep_id, channel=body.channel, summary=body.summary),
        timeout=CALL_DEADLINE_SECONDS,
    )
    return schemas.ContactOut(lead=convert.lead(reply.lead), first_contact=reply.first_contact)


@router.get("/{lead_id}/notifications", response_model=list[schemas.NotificationOut])
async def list_lead_notifications(
    lead_id: LeadIdDep, _caller: NotificationReadDep, notification_client: NotificationClientDep
) -> list[schemas.NotificationOut]:
    """Notifications sent about a lead, with their delivery attempts."""
    reply = await notification_client.ListNotifications(
        notification_pb2.ListNotificationsRequest(lead_id=lead_id), timeout=CALL_DEADLINE_SECONDS
    )
    return [convert.notification(n) for n in reply.notifications]


@router.get("/{lead_id}/opportunities", response_model=list[schemas.OpportunityOut])
async def list_lead_opportunities(
    lead_id: LeadIdDep, _caller: OpportunityReadDep, pipeline_client: PipelineClientDep
) -> list[schemas.OpportunityOut]:
    """Opportunities opened from a lead."""
    reply = await pipeline_client.ListOpportunities(
        pipeline_pb2.ListOpportunitiesRequest(lead_id=lead_id), timeout=CALL_DEADLINE_SECONDS
    )
    return [convert.opportunity(o) for o in reply.opportunities]
