"""Who may see and change which customer: the matrix per RPC, the owners learnt from lead events, masking, audit."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from google.protobuf.message import Message
from sqlalchemy import Column, DateTime, Table, Text, select
from sqlalchemy.dialects.postgresql import UUID, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from crm.customer.v1 import contact_pb2, customer_pb2
from crm.events.v1 import lead_events_pb2
from crm_common import audit
from crm_common.access import Action, Decision, Owner, Resource, caller, decide, effective, guard, require
from crm_common.bus.consumer import BatchHandler, ConsumerSpec, EventMeta, Handler
from crm_common.errors import NotFound, PermissionDenied
from crm_common.identity import Principal, Role
from crm_common.service import Runtime
from customer_master.tables import customers, metadata

R, X = Resource, Action
CUSTOMER_METHODS: dict[str, tuple[Resource, Action] | None] = {
    "ResolveCustomer": (R.CUSTOMER, X.CREATE),
    "GetCustomer": None,
    "MatchCustomer": (R.CUSTOMER, X.MATCH),
    "ListReviews": (R.STEWARDSHIP, X.READ),
    "DecideReview": (R.STEWARDSHIP, X.ACT),
    "MergeCustomers": (R.STEWARDSHIP, X.ACT),
    "UnmergeCustomers": (R.STEWARDSHIP, X.ACT),
    "GetHistory": None,
    "UpdateCustomerField": None,
    "FileChangeRequest": None,
    "ReassignSteward": (R.STEWARDSHIP, X.ACT),
    "GetDataHealth": (R.REPORT, X.READ),
    "GetMatchRules": (R.MATCH_RULES, X.READ),
    "SetMatchRules": (R.MATCH_RULES, X.UPDATE),
    "ListChangeRequests": None,
    "ApproveChangeRequest": (R.STEWARDSHIP, X.ACT),
    "RejectChangeRequest": (R.STEWARDSHIP, X.ACT),
    "StartDedupJob": (R.STEWARDSHIP, X.ACT),
    "GetDedupJob": (R.STEWARDSHIP, X.READ),
    "ListDedupJobs": (R.STEWARDSHIP, X.READ),
}
CONTACT_METHODS: dict[str, tuple[Resource, Action] | None] = {
    "GetContact": None,
    "ListContacts": None,
    "MatchContact": (R.CONTACT, X.MATCH),
    "GetSurvivorshipRules": (R.MATCH_RULES, X.READ),
    "SetSurvivorshipRules": (R.MATCH_RULES, X.UPDATE),
    "GetContactMatchRules": (R.MATCH_RULES, X.READ),
    "SetContactMatchRules": (R.MATCH_RULES, X.UPDATE),
    "MergeContacts": (R.STEWARDSHIP, X.ACT),
    "UnmergeContacts": (R.STEWARDSHIP, X.ACT),
}
guarded_customers = guard(CUSTOMER_METHODS)
guarded_contacts = guard(CONTACT_METHODS)

# Who works the leads behind a customer, as the lead service's events tell it (migration 0009): a rep owns the
# customers of the leads assigned to it, a manager those of its teams' leads.
lead_owners = Table(
    "lead_owners",
    metadata,
    Column("lead_id", Text, primary_key=True),
    Column("customer_id", UUID(as_uuid=True), nullable=True, index=True),
    Column("rep_id", Text, nullable=True),
    Column("team_id", Text, nullable=True),
    # When the owner last changed by the lead's own clock, so an older event delivered late changes nothing.
    Column("owner_at", DateTime(timezone=True), nullable=True),
)

PERSONAL = ("phone", "email", "credit_code")


Row = dict[str, object]


def _customer(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def _latest(rows: list[Row], *, dated: bool) -> list[Row]:
    """One row per lead, as applying the rows one by one would leave it: the last, or the newest by `owner_at`."""
    kept: dict[str, Row] = {}
    for row in rows:
        lead = str(row["lead_id"])
        before = kept.get(lead)
        if before is None or not dated or before["owner_at"] <= row["owner_at"]:  # type: ignore[operator]
            kept[lead] = row
    return [kept[lead] for lead in sorted(kept)]


async def _upsert(conn: AsyncConnection, rows: list[Row | None], *, dated: bool) -> None:
    """Apply a batch's rows in one statement, in lead order.

    Every consumer of lead events writes its rows in the same (lead id) order, so two batches naming the same
    leads take their row locks in one order and never deadlock; a lead named twice in a batch becomes one row
    (one statement cannot change a row twice).
    """
    batch = _latest([r for r in rows if r is not None], dated=dated)
    if not batch:
        return
    stmt = insert(lead_owners).values(batch)
    changed = {k: stmt.excluded[k] for k in batch[0] if k not in ("lead_id", "owner_at")}
    if dated:
        # An older owner delivered late changes nothing.
        changed["owner_at"] = stmt.excluded.owner_at
        newer = sa.or_(lead_owners.c.owner_at.is_(None), lead_owners.c.owner_at <= stmt.excluded.owner_at)
        await conn.execute(stmt.on_conflict_do_update(index_elements=["lead_id"], set_=changed, where=newer))
    else:
        await conn.execute(stmt.on_conflict_do_update(index_elements=["lead_id"], set_=changed))


def _at(message: Message, field: str, meta: EventMeta) -> datetime:
    """When the event says the owner changed, or when it was published."""
    if message.HasField(field):
        return getattr(message, field).ToDatetime(tzinfo=meta.published_at.tzinfo)  # type: ignore[no-any-return]
    return meta.published_at


def _customer_row(message: lead_events_pb2.LeadCaptured, meta: EventMeta) -> Row | None:
    customer_id = _customer(message.customer_id)
    return None if customer_id is None else {"lead_id": message.lead_id, "owner_at": None, "customer_id": customer_id}


def _assigned_row(message: lead_events_pb2.LeadAssigned, meta: EventMeta) -> Row:
    return {"lead_id": message.lead_id, "owner_at": _at(message, "assigned_at", meta),
            "rep_id": message.assignee_id or None, "team_id": message.team_id or None}


def _reassigned_row(message: lead_events_pb2.LeadReassigned, meta: EventMeta) -> Row:
    return {"lead_id": message.lead_id, "owner_at": _at(message, "at", meta), "rep_id": message.to_rep_id or None}


def _pooled_row(message: lead_events_pb2.LeadReturnedToPool, meta: EventMeta) -> Row:
    return {"lead_id": message.lead_id, "owner_at": _at(message, "at", meta), "rep_id": None}


async def on_customer(conn: AsyncConnection, message: lead_events_pb2.LeadCaptured, meta: EventMeta) -> None:
    """A lead's customer (captured or resolved later)."""
    await _upsert(conn, [_customer_row(message, meta)], dated=False)


async def on_assigned(conn: AsyncConnection, message: lead_events_pb2.LeadAssigned, meta: EventMeta) -> None:
    await _upsert(conn, [_assigned_row(message, meta)], dated=True)


async def on_reassigned(conn: AsyncConnection, message: lead_events_pb2.LeadReassigned, meta: EventMeta) -> None:
    await _upsert(conn, [_reassigned_row(message, meta)], dated=True)


async def on_pooled(conn: AsyncConnection, message: lead_events_pb2.LeadReturnedToPool, meta: EventMeta) -> None:
    await _upsert(conn, [_pooled_row(message, meta)], dated=True)


def _batch(row_of: Callable[[Any, EventMeta], Row | None], *, dated: bool) -> BatchHandler:
    async def apply(conn: AsyncConnection, events: Sequence[tuple[Message, EventMeta]]) -> None:
        await _upsert(conn, [row_of(message, meta) for message, meta in events], dated=dated)

    return apply


def _by_lead(message: Message) -> str:
    return str(message.lead_id)


def _owner_consumer(durable: str, subject: str, handler: Handler, row_of: Callable[[Any, EventMeta], Row | None],
                    *, dated: bool) -> ConsumerSpec:
    """A consumer of one lead event: a batch in one statement, in lead order (see `_upsert`)."""
    return ConsumerSpec(durable=durable, subject=subject, handler=handler, order_by=_by_lead,
                        batch_handler=_batch(row_of, dated=dated))


CONSUMERS = [
    _owner_consumer("customer-master-owner-captured", "crm.lead.captured", on_customer, _customer_row, dated=False),
    _owner_consumer(
        "customer-master-owner-resolved", "crm.lead.customer_resolved", on_customer, _customer_row, dated=False
    ),
    _owner_consumer("customer-master-owner-assigned", "crm.lead.assigned", on_assigned, _assigned_row, dated=True),
    _owner_consumer(
        "customer-master-owner-reassigned", "crm.lead.reassigned", on_reassigned, _reassigned_row, dated=True
    ),
    _owner_consumer("customer-master-owner-pooled", "crm.lead.returned_to_pool", on_pooled, _pooled_row, dated=True),
]


async def owner_of(conn: AsyncConnection, customer_id: str) -> Owner:
    """A customer belongs to its steward and to the reps (and teams) of the leads behind it."""
    parsed = _customer(customer_id)
    if parsed is None:
        return Owner()
    steward = await conn.scalar(select(customers.c.steward_id).where(customers.c.id == parsed))
    query = select(lead_owners.c.rep_id, lead_owners.c.team_id).where(lead_owners.c.customer_id == parsed)
    rows = list(await conn.execute(query))
    return Owner.of(reps=[steward, *(r.rep_id for r in rows)], teams=[r.team_id for r in rows])


async def decision_for(
    runtime: Runtime, customer_id: str, action: Action = Action.READ, *, resource: Resource = Resource.CUSTOMER
) -> Decision:
    """The caller's decision for one customer (its owners looked up only when the scope needs them)."""
    principal = caller()
    decision = decide(principal, resource, action, owner=None)
    if decision.allowed and decision.scope.value in ("own", "team"):
        async with runtime.db.connect() as conn:
            owner = await owner_of(conn, customer_id)
        decision = decide(principal, resource, action, owner=owner)
    if not decision.allowed:
        if action is Action.READ:
            raise NotFound(f"customer {customer_id} not found")
        raise PermissionDenied(decision.reason or f"the customer {customer_id} is not the caller's")
    return decision


def _mask(message: customer_pb2.Customer | contact_pb2.Contact) -> None:
    for name in PERSONAL:
        if hasattr(message, name):
            setattr(message, name, "")
    if isinstance(message, contact_pb2.Contact):
        # The provenance quotes each field's value and the sources hold the raw ones.
        message.provenance = ""
        del message.sources[:]


def _shown_fields(message: customer_pb2.Customer | contact_pb2.Contact) -> list[str]:
    return [name for name in PERSONAL if getattr(message, name, "")]


async def shown(
    runtime: Runtime, decision: Decision, resource: str, messages: list[customer_pb2.Customer] | list[contact_pb2.Contact]
) -> None:
    """Mask personal data the caller may not see; record the reads of what it may, one publish per answer (fails closed)."""
    if not decision.personal:
        for message in messages:
            _mask(message)
        return
    reads = [(message.id, _shown_fields(message)) for message in messages]
    await audit.record_reads(runtime, caller(), resource=resource, reads=reads)


async def shown_candidates(
    runtime: Runtime, resource: Resource, candidates: list[customer_pb2.Candidate] | list[contact_pb2.ContactCandidate]
) -> None:
    """A search's matches as the caller may see them (a rep or manager sees who matched, not their details)."""
    decision = decide(caller(), resource, Action.MATCH)
    for candidate in candidates:
        if not decision.personal:
            candidate.explanation = ""
    records = [c.customer if isinstance(c, customer_pb2.Candidate) else c.contact for c in candidates]
    await shown(runtime, decision, resource.value, records)


async def field_update(runtime: Runtime, customer_id: str, field: str) -> None:
    """A change of one field: the customer must be the caller's; its steward is stewardship (or a rep could take
    any customer by naming itself its steward)."""
    if field == "steward_id":
        await decision_for(runtime, customer_id, Action.ACT, resource=Resource.STEWARDSHIP)
    await decision_for(runtime, customer_id, Action.UPDATE)


async def change_requests_of(runtime: Runtime, customer_id: uuid.UUID | None) -> None:
    """One customer's change requests are read like the customer; the queue of every customer is stewardship."""
    if customer_id is None:
        require(caller(), Resource.STEWARDSHIP, Action.READ)
    else:
        await decision_for(runtime, str(customer_id))


def mask_history(decision: Decision, changes: list[customer_pb2.Change]) -> None:
    """A change of a personal field keeps its field name and actor, not its values, for callers without the grant."""
    if decision.personal:
        return
    for change in changes:
        if change.field.removeprefix("change_request:") in PERSONAL:
            change.old_value = change.new_value = ""


def actor_id(requested: str) -> str:
    """Who a record names as its author: the verified caller (a service acting for nobody relays the request's)."""
    return actor(caller(), requested, "")[0]


def actor(principal: Principal, actor_id: str, claimed_role: str) -> tuple[str, str]:
    """Who a change is recorded for and in which role: the verified caller's, never a role named in the request.

    Only the system's own code acting for nobody relays a user named in the request (its rights are an admin's,
    so the named role can only narrow them).
    """
    who = effective(principal)
    if who.role is Role.SERVICE:
        return actor_id, claimed_role
    return who.rep_id or who.subject, who.role.value
