"""Event consumers: assignments tell the assignee; escalations and reassignments tell the people above."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from functools import partial

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy.ext.asyncio import AsyncConnection

from crm.events.v1 import lead_events_pb2
from crm_common.bus.consumer import ConsumerSpec, EventMeta, after_commit
from crm_common.service import Runtime
from notification import config_cache, domain, intake, repository
from notification.channels import ChannelAdapter
from notification.delivery import NotificationRequest, notify
from notification.pipeline_notices import pipeline_specs
from notification.rendering import render_kind


def _queued(conn: AsyncConnection, on_queued: Callable[[], None] | None) -> None:
    """Wake the dispatcher once this transaction commits: a notification may wait for a provider."""
    if on_queued is not None:
        after_commit(conn, on_queued)


def _when(ts: Timestamp, meta: EventMeta) -> datetime:
    """When the event happened (its own timestamp if set, else when it was published)."""
    return ts.ToDatetime(tzinfo=meta.published_at.tzinfo) if ts.seconds else meta.published_at


async def _name_of(conn: AsyncConnection, recipient_id: str) -> str:
    row = await config_cache.recipient(conn, recipient_id) if recipient_id else None
    return row.name if row is not None and row.name else recipient_id


async def notify_assignee(
    conn: AsyncConnection,
    event: Message,
    meta: EventMeta,
    *,
    runtime: Runtime,
    adapters: Mapping[str, ChannelAdapter],
    channel: str,
    on_queued: Callable[[], None] | None = None,
) -> None:
    """Tell the assignee of a lead, exactly once per LeadAssigned event.

    The idempotency key is the event id (plus channel), not the lead: a redelivered or replayed event
    changes nothing, while a new assignment event for the same lead (say, reassigned to the same rep
    after a return to the pool) is news and notifies again. A recipient with a profile and a fallback
    chain is reached through it (and gets an in-app copy); anyone else gets the in-app inbox.
    """
    if not isinstance(event, lead_events_pb2.LeadAssigned):
        raise TypeError(f"expected LeadAssigned, got {type(event).__name__}")
    rendered = await render_kind(
        conn,
        domain.LEAD_ASSIGNED,
        {"lead_name": event.lead_name, "company": event.company, "channel": event.channel, "lead_id": event.lead_id},
    )
    key = domain.idempotency_key(meta.event_id, channel)
    event_at = _when(event.assigned_at, meta)
    recipient = await config_cache.recipient(conn, event.assignee_id) if event.assignee_id else None
    if intake.external_chain(recipient):
        await intake.create(
            conn,
            intake.Intake(
                idempotency_key=key, recipient_id=event.assignee_id, lead_id=event.lead_id, kind=domain.LEAD_ASSIGNED,
                title=rendered.title, body=rendered.body, event_at=event_at, team_id=event.team_id,
            ),
            stage=runtime.stage,
        )
        _queued(conn, on_queued)
        return
    request = NotificationRequest(
        idempotency_key=key,
        recipient_id=event.assignee_id,
        channel=channel,
        lead_id=event.lead_id,
        kind=domain.LEAD_ASSIGNED,
        title=rendered.title,
        body=rendered.body,
        event_at=event_at,
        team_id=event.team_id,
    )
    await notify(
        conn,
        request,
        adapter=adapters.get(channel),
        stage=runtime.stage,
        last_chance=meta.delivery >= runtime.settings.max_deliver,
        outbox=runtime.definition.outbox,
    )


async def notify_escalation(
    conn: AsyncConnection, event: Message, meta: EventMeta, *, runtime: Runtime, on_queued: Callable[[], None] | None = None
) -> None:
    """A lead not claimed or contacted in time: the next person in the team's chain is told, urgently.

    The first escalation of a lead goes to the first step (the assignee's manager by default), the
    next one to the step after (the operations owner), and so on; the last step keeps being told.
    A pool warning is for the assignee above all (they can still follow up): they get their own
    `lead_pool_warning`, and the chain is told as for any escalation.
    """
    if not isinstance(event, lead_events_pb2.LeadEscalated):
        raise TypeError(f"expected LeadEscalated, got {type(event).__name__}")
    level = await repository.count_escalations(conn, lead_id=event.lead_id, kind=domain.LEAD_ESCALATED)
    rep = await config_cache.recipient(conn, event.rep_id) if event.rep_id else None
    team_id = rep.team_id if rep is not None else ""
    target = await intake.escalation_target(
        conn, recipient_id=event.rep_id, team_id=team_id, level=level,
        manager_id=event.manager_id if level == 0 else "", clamp=True,
    )
    deadline = event.deadline_at.ToDatetime().isoformat(timespec="minutes") + "Z" if event.deadline_at.seconds else ""
    rendered = await render_kind(
        conn,
        domain.LEAD_ESCALATED,
        {
            "lead_id": event.lead_id, "rep_name": rep.name if rep is not None and rep.name else event.rep_id,
            "kind": event.kind, "reason": event.reason, "deadline_at": deadline, "lead_name": "",
        },
    )
    if event.kind == "pool_warning" and event.rep_id:
        warning = await render_kind(
            conn,
            domain.LEAD_POOL_WARNING,
            {"lead_id": event.lead_id, "lead_name": "", "reason": event.reason, "deadline_at": deadline},
        )
        await intake.create(
            conn,
            intake.Intake(
                idempotency_key=f"{meta.event_id}:pool_warning", recipient_id=event.rep_id, lead_id=event.lead_id,
                kind=domain.LEAD_POOL_WARNING, title=warning.title, body=warning.body,
                event_at=_when(event.at, meta), team_id=team_id,
            ),
            stage=runtime.stage,
        )
    await intake.create(
        conn,
        intake.Intake(
            idempotency_key=f"{meta.event_id}:escalation", recipient_id=target, lead_id=event.lead_id,
            kind=domain.LEAD_ESCALATED, title=rendered.title, body=rendered.body, urgent=True,
            event_at=_when(event.at, meta), team_id=team_id, escalation_level=level + 1,
        ),
        stage=runtime.stage,
    )
    _queued(conn, on_queued)


async def notify_reassignment(
    conn: AsyncConnection, event: Message, meta: EventMeta, *, runtime: Runtime, on_queued: Callable[[], None] | None = None
) -> None:
    """A lead moved away from a rep: that rep's manager is told (the new assignee hears via LeadAssigned)."""
    if not isinstance(event, lead_events_pb2.LeadReassigned):
        raise TypeError(f"expected LeadReassigned, got {type(event).__name__}")
    previous = await config_cache.recipient(conn, event.from_rep_id) if event.from_rep_id else None
    manager = event.manager_id or (previous.manager_id if previous is not None else "")
    rendered = await render_kind(
        conn,
        domain.LEAD_REASSIGNED,
        {
            "lead_id": event.lead_id, "lead_name": event.lead_name, "company": event.company, "reason": event.reason,
            "from_rep_name": await _name_of(conn, event.from_rep_id), "to_rep_name": await _name_of(conn, event.to_rep_id),
        },
    )
    await intake.create(
        conn,
        intake.Intake(
            idempotency_key=f"{meta.event_id}:reassigned", recipient_id=manager, lead_id=event.lead_id,
            kind=domain.LEAD_REASSIGNED, title=rendered.title, body=rendered.body, event_at=_when(event.at, meta),
            team_id=previous.team_id if previous is not None else "", escalation_level=1,
        ),
        stage=runtime.stage,
    )
    _queued(conn, on_queued)


def consumer_specs(
    runtime: Runtime,
    adapters: Mapping[str, ChannelAdapter],
    *,
    channel: str,
    on_queued: Callable[[], None] | None = None,
    linger_seconds: float = 0.0,
) -> list[ConsumerSpec]:
    """The durable consumers of this service; `on_queued` wakes the dispatcher after a commit that queued work."""
    return [
        ConsumerSpec(
            durable="notification-lead-assigned",
            subject="crm.lead.assigned",
            handler=partial(notify_assignee, runtime=runtime, adapters=adapters, channel=channel, on_queued=on_queued),
            linger_seconds=linger_seconds,
        ),
        ConsumerSpec(
            durable="notification-lead-escalated",
            subject="crm.lead.escalated",
            handler=partial(notify_escalation, runtime=runtime, on_queued=on_queued),
            linger_seconds=linger_seconds,
        ),
        ConsumerSpec(
            durable="notification-lead-reassigned",
            subject="crm.lead.reassigned",
            handler=partial(notify_reassignment, runtime=runtime, on_queued=on_queued),
            linger_seconds=linger_seconds,
        ),
        *pipeline_specs(runtime, on_queued=on_queued, linger_seconds=linger_seconds),
    ]
