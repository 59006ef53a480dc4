"""The lead's journey inside this service: capture, customer resolution, routing, claim, contact."""

from __future__ import annotations

import asyncio
import logging
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from opentelemetry import propagate, trace
from opentelemetry.trace import Span
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from crm.customer.v1 import customer_pb2, customer_pb2_grpc
from crm.events.v1 import lead_events_pb2
from crm_common.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound, PermissionDenied
from crm_common.metrics import LEAD_TIME_TO_ASSIGNMENT, LEAD_TIME_TO_FIRST_CONTACT, LEADS_CAPTURED, observe_with_trace
from crm_common.service import Runtime
from crm_common.telemetry import current_traceparent, trace_id_of
from lead import repository as repo
from lead.domain import CleanLead, next_in_rotation, rule_matches

log = logging.getLogger(__name__)
tracer = trace.get_tracer("crm.lead")


def ts(value: datetime | None) -> Timestamp | None:
    """A protobuf Timestamp (None stays None)."""
    if value is None:
        return None
    out = Timestamp()
    out.FromDatetime(value)
    return out


@dataclass(frozen=True)
class Assignment:
    rep_id: str
    team_id: str
    rule_id: str


async def resolve_customer(runtime: Runtime, lead: CleanLead, source_ref: str) -> str | None:
    """Ask the customer master who this is; None when it cannot answer now (a sweeper retries later)."""
    stub = customer_pb2_grpc.CustomerServiceStub(runtime.channel(runtime.peers.customer_master_addr))
    request = customer_pb2.ResolveCustomerRequest(
        name=lead.name, company=lead.company, phone=lead.phone_e164, email=lead.email, source_ref=source_ref
    )
    try:
        response = await stub.ResolveCustomer(request, timeout=runtime.settings.resolve_timeout_seconds)
    except grpc.aio.AioRpcError as err:
        log.warning("customer-master could not resolve %s: %s %s", source_ref, err.code().name, err.details())
        return None
    return response.customer.id or None


async def route(conn: AsyncConnection, fields: dict[str, str]) -> Assignment | None:
    """First matching rule (by priority) whose team has an active rep; round-robin within the team."""
    for rule in await repo.list_rules(conn):
        if not rule_matches(rule.conditions, fields):
            continue
        candidates = await repo.active_rep_ids(conn, team_id=rule.team_id)
        if not candidates:
            continue
        last = await repo.lock_cursor(conn, rule_id=rule.id)
        rep_id = next_in_rotation(candidates, last)
        await repo.move_cursor(conn, rule_id=rule.id, rep_id=rep_id)
        return Assignment(rep_id=rep_id, team_id=rule.team_id, rule_id=rule.id)
    return None


async def assign(runtime: Runtime, conn: AsyncConnection, row: Row[Any], now: datetime) -> Assignment | None:
    """Route a stored, unassigned lead and record the assignment with its event."""
    fields = CleanLead(
        province=row.province,
        city=row.city,
        industry=row.industry,
        product_interest=row.product_interest,
        source={"channel": row.channel},
    ).routing_fields(row.customer_id)
    assignment = await route(conn, fields)
    if assignment is None:
        return None
    await repo.set_assignment(
        conn, lead_id=row.id, rep_id=assignment.rep_id, team_id=assignment.team_id, rule_id=assignment.rule_id, at=now
    )
    await repo.add_timeline(conn, lead_id=row.id, step="assigned", at=now, detail=assignment.rep_id)
    await runtime.stage(
        conn,
        "crm.lead.assigned",
        lead_events_pb2.LeadAssigned(
            lead_id=row.id,
            assignee_id=assignment.rep_id,
            team_id=assignment.team_id,
            rule_id=assignment.rule_id,
            captured_at=ts(row.captured_at),
            assigned_at=ts(now),
            lead_name=row.name,
            company=row.company,
            channel=row.channel,
        ),
    )
    return assignment


async def capture(runtime: Runtime, lead: CleanLead, idempotency_key: str | None) -> tuple[str, bool]:
    """Store and route a validated lead; returns (lead id, created). A repeat key returns the first lead."""
    if idempotency_key:
        async with runtime.db.connect() as conn:
            existing = await repo.find_lead_by_key(conn, idempotency_key=idempotency_key)
        if existing is not None:
            return existing.id, False
    captured_at = datetime.now(UTC)
    customer_id = await resolve_customer(runtime, lead, f"lead-capture:{idempotency_key or captured_at.isoformat()}")
    async with runtime.db.transaction() as conn:
        lead_id = await repo.insert_lead(
            conn,
            lead=lead,
            idempotency_key=idempotency_key,
            customer_id=customer_id,
            traceparent=current_traceparent(),
            trace_id=trace_id_of(),
            captured_at=captured_at,
        )
        if lead_id is None:  # a concurrent capture with the same key committed first
            raced = await repo.find_lead_by_key(conn, idempotency_key=idempotency_key or "")
            assert raced is not None
            return raced.id, False
        channel = lead.source["channel"]
        await repo.add_timeline(conn, lead_id=lead_id, step="captured", at=captured_at, detail=channel)
        await runtime.stage(
            conn,
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
        if customer_id:
            await _record_customer(runtime, conn, lead_id, customer_id, captured_at)
        row = await repo.get_lead(conn, lead_id=lead_id)
        assert row is not None
        assigned_at = datetime.now(UTC)
        assignment = await assign(runtime, conn, row, assigned_at)
    LEADS_CAPTURED.labels(channel).inc()
    if assignment is not None:
        observe_with_trace(LEAD_TIME_TO_ASSIGNMENT, (assigned_at - captured_at).total_seconds())
    return lead_id, True


async def _record_customer(
    runtime: Runtime, conn: AsyncConnection, lead_id: str, customer_id: str, at: datetime
) -> None:
    await repo.add_timeline(conn, lead_id=lead_id, step="customer_resolved", at=at, detail=customer_id)
    await runtime.stage(
        conn,
        "crm.lead.customer_resolved",
        lead_events_pb2.LeadCustomerResolved(lead_id=lead_id, customer_id=customer_id, resolved_at=ts(at)),
    )


async def _locked_lead(conn: AsyncConnection, lead_id: str) -> Row[Any]:
    canonical = repo.parse_id(lead_id)
    row = await repo.get_lead(conn, lead_id=canonical, for_update=True) if canonical else None
    if row is None:
        raise NotFound(f"lead {lead_id} not found")
    return row


def _require_assignee(row: Row[Any], rep_id: str) -> None:
    if not rep_id:
        raise InvalidArgument([FieldViolation("rep_id", "is required")])
    if row.assignee_id is None:
        raise FailedPrecondition(f"lead {row.id} is not assigned yet")
    if row.assignee_id != repo.parse_id(rep_id):
        raise PermissionDenied(f"lead {row.id} is assigned to another rep")


async def claim(runtime: Runtime, lead_id: str, rep_id: str) -> str:
    """The assignee takes the lead (a repeat claim by the same rep changes nothing)."""
    async with runtime.db.transaction() as conn:
        row = await _locked_lead(conn, lead_id)
        _require_assignee(row, rep_id)
        if row.claimed_at is not None:
            return row.id
        now = datetime.now(UTC)
        await repo.set_claimed(conn, lead_id=row.id, at=now)
        await repo.add_timeline(conn, lead_id=row.id, step="claimed", at=now, detail=row.assignee_id)
        await runtime.stage(
            conn,
            "crm.lead.claimed",
            lead_events_pb2.LeadClaimed(lead_id=row.id, rep_id=row.assignee_id, claimed_at=ts(now)),
        )
    return row.id


async def record_contact(runtime: Runtime, lead_id: str, rep_id: str, channel: str, summary: str) -> tuple[str, bool]:
    """Record a contact by the assignee; the first one sets first_contact_at. Returns (lead id, first)."""
    violations = []
    if not channel.strip():
        violations.append(FieldViolation("channel", "is required"))
    elif len(channel) > 50:
        violations.append(FieldViolation("channel", "must be at most 50 characters"))
    if len(summary) > 4000:
        violations.append(FieldViolation("summary", "must be at most 4000 characters"))
    if violations:
        raise InvalidArgument(violations)
    async with runtime.db.transaction() as conn:
        row = await _locked_lead(conn, lead_id)
        _require_assignee(row, rep_id)
        now = datetime.now(UTC)
        first = row.first_contact_at is None
        await repo.insert_contact(
            conn, lead_id=row.id, rep_id=row.assignee_id, channel=channel.strip(), summary=summary.strip(), at=now
        )
        if first:
            await repo.set_first_contact(conn, lead_id=row.id, at=now)
        await repo.add_timeline(conn, lead_id=row.id, step="contacted", at=now, detail=channel.strip())
        await runtime.stage(
            conn,
            "crm.lead.contacted",
            lead_events_pb2.LeadContacted(
                lead_id=row.id,
                rep_id=row.assignee_id,
                channel=channel.strip(),
                first_contact=first,
                customer_id=row.customer_id or "",
                captured_at=ts(row.captured_at),
                contacted_at=ts(now),
            ),
        )
    if first:
        observe_with_trace(LEAD_TIME_TO_FIRST_CONTACT, (now - row.captured_at).total_seconds())
    return row.id, first


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
            row = await repo.get_lead(conn, lead_id=lead_id)
            assert row is not None
            with _in_lead_trace(row, "resolve waiting lead"):
                lead = CleanLead(name=row.name, phone_e164=row.phone_e164, email=row.email, company=row.company)
                customer_id = await resolve_customer(runtime, lead, f"lead:{lead_id}")
                if customer_id:
                    await repo.set_customer(conn, lead_id=lead_id, customer_id=customer_id)
                    await _record_customer(runtime, conn, lead_id, customer_id, datetime.now(UTC))
    async with runtime.db.transaction() as conn:
        for lead_id in await repo.leads_waiting(conn, older_than=older_than, unresolved=False, limit=200):
            row = await repo.get_lead(conn, lead_id=lead_id)
            assert row is not None
            with _in_lead_trace(row, "assign waiting lead"):
                assigned_at = datetime.now(UTC)
                if await assign(runtime, conn, row, assigned_at):
                    observe_with_trace(LEAD_TIME_TO_ASSIGNMENT, (assigned_at - row.captured_at).total_seconds())
