"""Pipeline events told to people: an approval request to the owner's manager (an override to the other admins), a stall to owner and manager."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from functools import partial

from google.protobuf.message import Message
from sqlalchemy.ext.asyncio import AsyncConnection

from crm.events.v1 import pipeline_events_pb2
from crm_common.bus.consumer import ConsumerSpec, EventMeta, after_commit
from crm_common.service import Runtime
from notification import config_cache, intake
from notification.rendering import render_kind

APPROVAL_REQUESTED = "opportunity_approval_requested"
STALLED = "opportunity_stalled"


def _at(event: Message, meta: EventMeta) -> datetime:
    at = event.at  # type: ignore[attr-defined]
    when: datetime = at.ToDatetime(tzinfo=meta.published_at.tzinfo) if at.seconds else meta.published_at
    return when


async def notify_approval_requested(
    conn: AsyncConnection,
    event: Message,
    meta: EventMeta,
    *,
    runtime: Runtime,
    on_queued: Callable[[], None] | None = None,
    admins: Sequence[str] = (),
) -> None:
    """A skip or backward move waits: the owner's manager is asked; an override: every admin but its requester."""
    if not isinstance(event, pipeline_events_pb2.ApprovalRequested):
        raise TypeError(f"expected ApprovalRequested, got {type(event).__name__}")
    if event.approver_role == "manager":
        owner = await config_cache.recipient(conn, event.owner_id) if event.owner_id else None
        recipients = [("approval", owner.manager_id if owner is not None else "")]
    elif event.approver_role == "admin":
        # Four eyes: the requester can never approve, so is never asked.
        recipients = [(f"admin:{a}", a) for a in dict.fromkeys(admins) if a and a != event.requested_by]
    else:
        return
    rendered = await render_kind(
        conn,
        APPROVAL_REQUESTED,
        {
            "opportunity_id": event.opportunity_id, "kind": event.kind, "from_stage": event.from_stage,
            "to_stage": event.to_stage, "requested_by": event.requested_by, "reason": event.reason,
        },
    )
    for suffix, recipient in recipients:
        await intake.create(
            conn,
            intake.Intake(
                # The record the notice is about: the opportunity (the column is named for leads, its first use).
                idempotency_key=f"{meta.event_id}:{suffix}", recipient_id=recipient,
                lead_id=event.opportunity_id, kind=APPROVAL_REQUESTED, title=rendered.title, body=rendered.body,
                event_at=_at(event, meta), team_id=event.team_id, escalation_level=1,
            ),
            stage=runtime.stage,
        )
    if on_queued is not None:
        after_commit(conn, on_queued)


def override_approvers(settings: object) -> list[str]:
    """The admins asked to approve a pipeline override (CRM_PIPELINE_OVERRIDE_APPROVERS, comma-separated)."""
    configured = str(getattr(settings, "pipeline_override_approvers", ""))
    return [a.strip() for a in configured.split(",") if a.strip()]


async def notify_stalled(
    conn: AsyncConnection, event: Message, meta: EventMeta, *, runtime: Runtime, on_queued: Callable[[], None] | None = None
) -> None:
    """A stall tells the owner and the team's first escalation step; a re-escalation the step after (urgent)."""
    if not isinstance(event, pipeline_events_pb2.OpportunityStalled):
        raise TypeError(f"expected OpportunityStalled, got {type(event).__name__}")
    values = {
        "opportunity_id": event.opportunity_id, "stage": event.stage, "sub_state": event.sub_state or "-",
        "block_reasons": ", ".join(event.block_reasons),
    }
    rendered = await render_kind(conn, STALLED, values)
    target = await intake.escalation_target(
        conn, recipient_id=event.owner_id, team_id=event.team_id, level=event.level, clamp=True
    )
    recipients = [(event.owner_id, "owner"), (target, "chain")] if event.level == 0 else [(target, "chain")]
    for recipient, role in recipients:
        if not recipient:
            continue
        await intake.create(
            conn,
            intake.Intake(
                idempotency_key=f"{meta.event_id}:{role}", recipient_id=recipient, lead_id=event.opportunity_id,
                kind=STALLED, title=rendered.title, body=rendered.body, urgent=event.level > 0,
                event_at=_at(event, meta), team_id=event.team_id,
                escalation_level=event.level + (1 if role == "chain" else 0),
            ),
            stage=runtime.stage,
        )
    if on_queued is not None:
        after_commit(conn, on_queued)


def pipeline_specs(runtime: Runtime, *, on_queued: Callable[[], None] | None, linger_seconds: float) -> list[ConsumerSpec]:
    """The durable consumers of pipeline events."""
    return [
        ConsumerSpec(
            durable="notification-pipeline-approval-requested",
            subject="crm.pipeline.approval_requested",
            handler=partial(
                notify_approval_requested, runtime=runtime, on_queued=on_queued, admins=override_approvers(runtime.settings)
            ),
            linger_seconds=linger_seconds,
        ),
        ConsumerSpec(
            durable="notification-pipeline-stalled",
            subject="crm.pipeline.stalled",
            handler=partial(notify_stalled, runtime=runtime, on_queued=on_queued),
            linger_seconds=linger_seconds,
        ),
    ]
