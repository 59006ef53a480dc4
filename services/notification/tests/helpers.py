"""Builders shared by the notification tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp

from crm.events.v1 import lead_events_pb2
from crm_common.bus.consumer import EventMeta


def lead_assigned(*, lead_id: str | None = None, assignee_id: str | None = None, **fields: str) -> lead_events_pb2.LeadAssigned:
    """A LeadAssigned event for a fresh lead and rep unless told otherwise."""
    now = Timestamp()
    now.FromDatetime(datetime.now(UTC))
    return lead_events_pb2.LeadAssigned(
        lead_id=lead_id or str(uuid.uuid4()),
        assignee_id=str(uuid.uuid4()) if assignee_id is None else assignee_id,
        team_id=str(uuid.uuid4()),
        assigned_at=now,
        captured_at=now,
        **{"lead_name": "Li Na", "company": "Acme", "channel": "web_form", **fields},
    )


def meta(*, event_id: str | None = None, delivery: int = 1) -> EventMeta:
    """The metadata a consumer hands its handler."""
    return EventMeta(
        event_id=event_id or str(uuid.uuid4()),
        subject="crm.lead.assigned",
        published_at=datetime.now(UTC),
        delivery=delivery,
    )
