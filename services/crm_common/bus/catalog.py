"""Streams, subjects and the protobuf payload of every event, declared once."""

from __future__ import annotations

from google.protobuf.message import Message

from crm.events.v1 import (
    customer_events_pb2,
    integration_events_pb2,
    lead_events_pb2,
    notification_events_pb2,
    pipeline_events_pb2,
)

# One stream per producing service (subjects crm.<service>.<event>), plus the dead letters.
STREAMS: dict[str, str] = {
    "CRM_LEAD": "crm.lead.>",
    "CRM_CUSTOMER": "crm.customer.>",
    "CRM_PIPELINE": "crm.pipeline.>",
    "CRM_NOTIFICATION": "crm.notification.>",
    "CRM_INTEGRATION": "crm.integration.>",
    "CRM_DLQ": "crm.dlq.>",
}

EVENT_TYPES: dict[str, type[Message]] = {
    "crm.lead.captured": lead_events_pb2.LeadCaptured,
    "crm.lead.customer_resolved": lead_events_pb2.LeadCustomerResolved,
    "crm.lead.assigned": lead_events_pb2.LeadAssigned,
    "crm.lead.claimed": lead_events_pb2.LeadClaimed,
    "crm.lead.contacted": lead_events_pb2.LeadContacted,
    "crm.lead.reassigned": lead_events_pb2.LeadReassigned,
    "crm.lead.escalated": lead_events_pb2.LeadEscalated,
    "crm.lead.returned_to_pool": lead_events_pb2.LeadReturnedToPool,
    "crm.lead.rep_deactivated": lead_events_pb2.RepDeactivated,
    "crm.customer.created": customer_events_pb2.CustomerCreated,
    "crm.customer.merged": customer_events_pb2.CustomerMerged,
    "crm.customer.unmerged": customer_events_pb2.CustomerUnmerged,
    "crm.customer.updated": customer_events_pb2.CustomerUpdated,
    "crm.notification.delivered": notification_events_pb2.NotificationDelivered,
    "crm.notification.failed": notification_events_pb2.NotificationFailed,
    "crm.notification.escalated": notification_events_pb2.NotificationEscalated,
    "crm.pipeline.opportunity_opened": pipeline_events_pb2.OpportunityOpened,
    "crm.pipeline.stage_changed": pipeline_events_pb2.StageChanged,
    "crm.pipeline.action_completed": pipeline_events_pb2.ActionCompleted,
    "crm.pipeline.sub_state_changed": pipeline_events_pb2.SubStateChanged,
    "crm.pipeline.approval_requested": pipeline_events_pb2.ApprovalRequested,
    "crm.pipeline.approval_decided": pipeline_events_pb2.ApprovalDecided,
    "crm.pipeline.stalled": pipeline_events_pb2.OpportunityStalled,
    "crm.pipeline.legal_review_requested": pipeline_events_pb2.LegalReviewRequested,
    "crm.pipeline.handover": pipeline_events_pb2.OpportunityHandedOver,
    "crm.pipeline.block_reason_set": pipeline_events_pb2.BlockReasonSet,
    "crm.integration.external_event_received": integration_events_pb2.ExternalEventReceived,
}


def stream_of(subject: str) -> str:
    """The stream that holds a subject."""
    for name, pattern in STREAMS.items():
        if subject.startswith(pattern[:-1]):
            return name
    raise KeyError(f"no stream holds subject {subject!r}")


def dead_letter_subject(durable: str) -> str:
    """Where a consumer's poison messages go."""
    return f"crm.dlq.{durable}"


def decode(subject: str, payload: bytes) -> Message:
    """Parse an event payload by its subject."""
    message = EVENT_TYPES[subject]()
    message.ParseFromString(payload)
    return message
