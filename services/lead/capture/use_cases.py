"""Capture's use cases: a submission becomes a lead (or a quarantined one), its customer is resolved, it is routed."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import uuid
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
from google.protobuf.json_format import MessageToDict, ParseDict
from opentelemetry import propagate, trace
from opentelemetry.trace import Span
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from crm.customer.v1 import customer_pb2, customer_pb2_grpc
from crm.events.v1 import lead_events_pb2
from crm.lead.v1 import lead_pb2
from crm_common.bus.outbox import riding_events
from crm_common.errors import NotFound
from crm_common.identity import Role, current_principal
from crm_common.metrics import (
    LEAD_TIME_TO_ASSIGNMENT,
    LEADS_CAPTURED,
    LEADS_QUARANTINED,
    bounded_label,
    observe_with_trace,
)
from crm_common.service import Runtime
from crm_common.telemetry import current_traceparent, trace_id_of
from lead import records
from lead.capture import idempotency
from lead.capture import repository as repo
from lead.domain import CleanLead, quarantine_reasons, score_lead, validate_lead
from lead.ownership.clocks import first_contact_deadline
from lead.routing.assignment import route, route_lead
from lead.timestamps import ts

log = logging.getLogger(__name__)


# Routing rules match on the tier, so it is taken only from these (connected systems, operators), never from a
# rep's or manager's capture body: a rep could otherwise route a lead to the strategic-accounts team.
TIER_SETTERS = frozenset({Role.ADMIN, Role.SYSTEM})


tracer = trace.get_tracer("crm.lead")


@dataclass(frozen=True)
class Captured:
    """What a capture did: a new lead, a repeat of one (key or touch), or a quarantined submission."""

    lead_id: str | None
    created: bool
    duplicate: bool = False
    quarantine: Row[Any] | None = None
    # The new lead as assigned and its timeline, when capture wrote all of it (else the caller reads it).
    lead: Row[Any] | None = None
    timeline: list[records.Step] | None = None


def _submitted_dict(submitted: lead_pb2.LeadInput | None) -> dict[str, Any]:
    """The submission as stored with a touch or a quarantine (only those keep it, so a new lead never pays)."""
    return MessageToDict(submitted) if submitted is not None else {}


async def resolve_customer(runtime: Runtime, lead: CleanLead, source_ref: str) -> str | None:
    """Ask the customer master who this is; None when it cannot answer now (a sweeper retries later)."""
    stub = runtime.stub(customer_pb2_grpc.CustomerServiceStub, runtime.peers.customer_master_addr)
    request = customer_pb2.ResolveCustomerRequest(
        name=lead.name, company=lead.company, phone=lead.phone_e164, email=lead.email, source_ref=source_ref
    )
    try:
        response = await stub.ResolveCustomer(request, timeout=runtime.settings.resolve_timeout_seconds)
    except grpc.aio.AioRpcError as err:
        log.warning("customer-master could not resolve %s: %s %s", source_ref, err.code().name, err.details())
        return None
    return response.customer.id or None


async def assign(
    runtime: Runtime, conn: AsyncConnection, row: Row[Any], now: datetime, *, trigger: str = "capture"
) -> bool:
    """Route a stored, unassigned lead by the live rules; True when a rep got it."""
    # A lead that waits after a lapse still skips the reps whose claim window lapsed on it.
    decision = await route_lead(
        runtime,
        conn,
        row,
        now,
        trigger=trigger,
        excluded=frozenset(row.lapsed_rep_ids or ()),
        record_unplaced=trigger != "sweep",
    )
    return decision.rep_id is not None


def _tier_from_trusted(lead: CleanLead) -> CleanLead:
    """The lead as routing may trust it: only a submitting system states the customer's tier, never a person."""
    principal = current_principal()
    if principal is None:  # called in-process, by this service itself
        return lead
    person = principal.on_behalf_of if principal.is_service else principal
    if person is None or person.role in TIER_SETTERS or not lead.customer_tier:
        return lead
    return dataclasses.replace(lead, customer_tier="")


async def _answered(conn: AsyncConnection, seen: Row[Any] | None, sent_hash: str) -> Captured | None:
    """What a key answered before (None: never used); INVALID_ARGUMENT when it comes with another body."""
    if seen is None:
        return None
    idempotency.refuse_other_body(seen.request_hash, sent_hash)
    if seen.outcome == "quarantine":
        held = await repo.get_quarantine(conn, quarantine_id=seen.quarantine_id)
        assert held is not None
        return Captured(held.released_lead_id, False, quarantine=held)
    return Captured(seen.lead_id, False, duplicate=seen.outcome == "touch")


async def capture(
    runtime: Runtime,
    lead: CleanLead,
    idempotency_key: str | None,
    submitted: lead_pb2.LeadInput | None = None,
    *,
    skip_quarantine: bool = False,
    scope: str | None = None,
) -> Captured:
    """Store and route a validated lead. A repeat (key, or phone/email and channel in the window) is a touch.

    A key belongs to `scope` (default: the caller, idempotency.caller_scope) and to the body it first came with.
    """
    lead = _tier_from_trusted(lead)
    key_scope = scope if scope is not None else idempotency.caller_scope()
    sent_hash = idempotency.request_hash(submitted if submitted is not None else lead)
    key_locks = [repo.key_lock(key_scope, idempotency_key)] if idempotency_key else []
    if idempotency_key:
        async with runtime.db.read() as conn:
            seen = await repo.find_key(conn, scope=key_scope, key=idempotency_key)
            answered = await _answered(conn, seen, sent_hash)
            if answered is not None:
                return answered

    async def raced(conn: AsyncConnection) -> Captured | None:
        """With the key's lock held: what a capture with the same key, committed meanwhile, answered."""
        if not idempotency_key:
            return None
        return await _answered(conn, await repo.find_key(conn, scope=key_scope, key=idempotency_key), sent_hash)

    async def remember(conn: AsyncConnection, outcome: str, **ids: str | None) -> None:
        if idempotency_key:
            at = captured_at
            await repo.record_key(
                conn, scope=key_scope, key=idempotency_key, request_hash=sent_hash, outcome=outcome, at=at, **ids
            )

    settings = runtime.settings
    captured_at = datetime.now(UTC)
    if not skip_quarantine:
        reasons = quarantine_reasons(
            lead, blocked_email_domains=settings.blocked_email_domains, blocked_phones=settings.blocked_phones
        )
        if reasons:
            async with runtime.db.transaction() as conn:
                # The same key at the same moment: one of the two holds it, the other answers what it wrote.
                await records.lock_keys(conn, keys=key_locks)
                if (earlier := await raced(conn)) is not None:
                    return earlier
                held = await repo.insert_quarantine(
                    conn,
                    data=_submitted_dict(submitted),
                    reasons=reasons,
                    idempotency_key=idempotency_key,
                    at=captured_at,
                )
                await remember(conn, "quarantine", quarantine_id=held.id)
            for reason in reasons:
                LEADS_QUARANTINED.labels(reason.split(" ", 1)[0]).inc()
            return Captured(None, False, quarantine=held)
    channel = lead.source["channel"]
    window = timedelta(hours=settings.duplicate_window_hours)
    parts = score_lead(lead, settings.channel_weights, settings.default_channel_weight)
    customer_id = await resolve_customer(runtime, lead, f"lead-capture:{idempotency_key or captured_at.isoformat()}")
    steps = [records.Step("captured", captured_at, channel)]
    if customer_id:
        steps.append(records.Step("customer_resolved", captured_at, customer_id))
    async with runtime.db.transaction() as conn:
        # Same person, same channel, recently: one lock per phone/email so that concurrent repeats see each other
        # (taken by the same call, before it reads).
        found = await repo.capture_context(
            conn,
            lock=key_locks + ([f"lead-contact:{k}" for k in (lead.phone_e164, lead.email) if k] if window else []),
            phone=lead.phone_e164 if window else "",
            email=lead.email if window else "",
            channel=channel,
            since=captured_at - window,
            customer_id=customer_id,
        )
        if (earlier := await raced(conn)) is not None:  # the key's lock is held now
            return earlier
        if found.duplicate_id is not None:
            await repo.add_touch(
                conn,
                lead_id=found.duplicate_id,
                at=captured_at,
                channel=channel,
                idempotency_key=idempotency_key,
                data=_submitted_dict(submitted),
                max_stored=settings.max_stored_touches,
            )
            await remember(conn, "touch", lead_id=found.duplicate_id)
            return Captured(found.duplicate_id, False, duplicate=True)
        lead_id = str(uuid.uuid4())
        # Its events ride on the lead's own INSERT (one round trip), written only if the lead is.
        events = [
            (
                "crm.lead.captured",
                lead_events_pb2.LeadCaptured(
                    lead_id=lead_id,
                    channel=channel,
                    customer_id=customer_id or "",
                    captured_at=ts(captured_at),
                    province=lead.province,
                    industry=lead.industry,
                ),
            )
        ]
        if customer_id:
            events.append((CUSTOMER_RESOLVED, _customer_resolved(lead_id, customer_id, captured_at)))
        row = await repo.insert_lead(
            conn,
            lead_id=lead_id,
            events=riding_events(conn, runtime.definition.outbox, events),
            lead=lead,
            idempotency_key=idempotency_key,
            customer_id=customer_id,
            traceparent=current_traceparent(),
            trace_id=trace_id_of(),
            captured_at=captured_at,
            score=round(sum(parts.values())),
            score_parts=parts,
            contact_deadline=first_contact_deadline(runtime, captured_at),
            steps=steps,
        )
        assert row is not None
        await remember(conn, "lead", lead_id=lead_id)
        assigned_at = datetime.now(UTC)
        _, assigned = await route(
            runtime, conn, row, assigned_at, trigger="capture", context=(found.version, found.owner_id)
        )
    LEADS_CAPTURED.labels(bounded_label(channel, runtime.settings.channel_weights)).inc()  # configured channels
    if assigned is None:
        return Captured(lead_id, True)
    observe_with_trace(LEAD_TIME_TO_ASSIGNMENT, (assigned_at - captured_at).total_seconds())
    # The answer is what was written: no second read of the lead and its timeline.
    return Captured(
        lead_id, True, lead=assigned, timeline=[*steps, records.Step("assigned", assigned_at, assigned.assignee_id)]
    )


async def _record_customer(
    runtime: Runtime, conn: AsyncConnection, lead_id: str, customer_id: str, at: datetime
) -> None:
    await records.add_timeline(conn, lead_id=lead_id, step="customer_resolved", at=at, detail=customer_id)
    await _stage_customer(runtime, conn, lead_id, customer_id, at)


CUSTOMER_RESOLVED = "crm.lead.customer_resolved"


def _customer_resolved(lead_id: str, customer_id: str, at: datetime) -> lead_events_pb2.LeadCustomerResolved:
    return lead_events_pb2.LeadCustomerResolved(lead_id=lead_id, customer_id=customer_id, resolved_at=ts(at))


async def _stage_customer(
    runtime: Runtime, conn: AsyncConnection, lead_id: str, customer_id: str, at: datetime
) -> None:
    await runtime.stage(conn, CUSTOMER_RESOLVED, _customer_resolved(lead_id, customer_id, at))


async def sweep_waiting_leads(runtime: Runtime) -> None:
    """Retry what capture could not finish: resolve customers that were unreachable, assign unassigned leads."""
    interval = runtime.settings.sweep_interval_seconds
    while True:
        await asyncio.sleep(interval)
        try:
            await _sweep_once(runtime, older_than=datetime.now(UTC) - timedelta(seconds=interval))
        except Exception as err:
            log.warning("sweep failed, will retry: %s", err)


def _in_lead_trace(row: Row[Any], name: str) -> AbstractContextManager[Span]:
    """A span in the lead's own trace, so late steps join the journey that capture started."""
    parent = propagate.extract({"traceparent": row.traceparent}) if row.traceparent else None
    return tracer.start_as_current_span(name, context=parent, attributes={"crm.lead.id": row.id})


async def _sweep_once(runtime: Runtime, *, older_than: datetime) -> None:
    async with runtime.db.transaction() as conn:
        for lead_id in await repo.leads_waiting(conn, older_than=older_than, unresolved=True, limit=50):
            row = await records.get_lead(conn, lead_id=lead_id)
            assert row is not None
            with _in_lead_trace(row, "resolve waiting lead"):
                lead = CleanLead(name=row.name, phone_e164=row.phone_e164, email=row.email, company=row.company)
                customer_id = await resolve_customer(runtime, lead, f"lead:{lead_id}")
                if customer_id:
                    await repo.set_customer(conn, lead_id=lead_id, customer_id=customer_id)
                    await _record_customer(runtime, conn, lead_id, customer_id, datetime.now(UTC))
    async with runtime.db.transaction() as conn:
        for lead_id in await repo.leads_waiting(conn, older_than=older_than, unresolved=False, limit=200):
            row = await records.get_lead(conn, lead_id=lead_id)
            assert row is not None
            with _in_lead_trace(row, "assign waiting lead"):
                assigned_at = datetime.now(UTC)
                if await assign(runtime, conn, row, assigned_at, trigger="sweep"):
                    observe_with_trace(LEAD_TIME_TO_ASSIGNMENT, (assigned_at - row.captured_at).total_seconds())


async def release(runtime: Runtime, quarantine_id: str) -> str:
    """An operator vouches for a quarantined submission: it becomes a lead, once, and is routed like any other."""
    canonical = records.parse_id(quarantine_id)
    async with runtime.db.connect() as conn:
        held = await repo.get_quarantine(conn, quarantine_id=canonical) if canonical else None
    if held is None:
        raise NotFound(f"quarantined submission {quarantine_id} not found")
    if held.released_lead_id:
        return str(held.released_lead_id)
    data = lead_pb2.LeadInput()
    ParseDict(held.input, data, ignore_unknown_fields=True)
    lead = validate_lead(data, region=runtime.settings.default_region)
    # Keyed by the submission: two operators releasing it at once get one lead (the second waits on the key).
    captured = await capture(runtime, lead, str(held.id), data, skip_quarantine=True, scope=idempotency.RELEASE_SCOPE)
    assert captured.lead_id is not None
    async with runtime.db.transaction() as conn:
        again = await repo.get_quarantine(conn, quarantine_id=held.id, for_update=True)
        assert again is not None
        if again.released_lead_id:  # another operator released it at the same moment
            return str(again.released_lead_id)
        await repo.release_quarantine(conn, quarantine_id=held.id, lead_id=captured.lead_id)
        await records.add_timeline(
            conn, lead_id=captured.lead_id, step="released", at=datetime.now(UTC), detail="; ".join(held.reasons)
        )
    return captured.lead_id
