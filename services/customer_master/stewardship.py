"""Stewardship: reversible merges, review decisions, owned golden fields, history, stewards, data health."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import grpc
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from crm.events.v1 import customer_events_pb2
from crm_common.errors import (
    DomainError,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
)
from crm_common.metrics import (
    CUSTOMER_DUPLICATE_RATE,
    CUSTOMER_RECORDS_MISSING,
    CUSTOMER_REVIEW_QUEUE_SIZE,
    CUSTOMER_STALE_RECORDS,
)
from crm_common.service import Runtime
from customer_master import repository
from customer_master.domain import normalize_company, normalize_email, normalize_phone
from customer_master.matching import MatchRules, normalize_credit_code, valid_credit_code
from customer_master.names import normalize_company_name

CUSTOMER_MERGED = "crm.customer.merged"
CUSTOMER_UNMERGED = "crm.customer.unmerged"
CUSTOMER_UPDATED = "crm.customer.updated"

# Field name in the API → column, and the columns a merge may fill on the survivor when it has none.
FIELD_COLUMNS = {
    "name": "name",
    "company": "company",
    "credit_code": "credit_code",
    "phone": "phone_e164",
    "email": "email_normalized",
    "first_cooperation_date": "first_cooperation_date",
    "steward_id": "steward_id",
}
# Phone and email stay on the merged record (each is unique to one record) and still resolve, through it, to the
# survivor.
MERGE_FILLS = ("name", "company", "credit_code", "first_cooperation_date", "steward_id")
REVIEW_DECISIONS = {"accept": "accepted", "reject": "rejected", "defer": "deferred"}


@dataclass(frozen=True)
class Actor:
    """Who asks for a change, in which role, and why."""

    actor_id: str
    role: str = ""
    reason: str = ""


def parse_id(value: str, kind: str) -> uuid.UUID:
    """A UUID, or NotFound: an id that cannot exist names nothing."""
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound(f"{kind} {value!r} not found") from None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, date) else str(value)


def _change(
    customer_id: uuid.UUID, field: str, old: Any, new: Any, actor: Actor, change_request_id: uuid.UUID | None = None
) -> dict[str, Any]:
    return {
        "customer_id": customer_id,
        "field": field,
        "old_value": _text(old),
        "new_value": _text(new),
        "actor_id": actor.actor_id,
        "actor_role": actor.role,
        "reason": actor.reason,
        "change_request_id": change_request_id,
    }


async def merge_customers(
    runtime: Runtime, conn: AsyncConnection, *, survivor_id: uuid.UUID, merged_id: uuid.UUID, actor: Actor
) -> tuple[Row, Row]:
    """Fold merged into survivor: sources relinked, empty survivor fields filled, all of it recorded for an unmerge."""
    if survivor_id == merged_id:
        raise InvalidArgument([FieldViolation("merged_id", "must differ from survivor_id")])
    rows = await repository.lock_customers(conn, customer_ids=[survivor_id, merged_id])
    for kind, customer_id in (("survivor", survivor_id), ("merged", merged_id)):
        if customer_id not in rows:
            raise NotFound(f"{kind} customer {customer_id} not found")
        if rows[customer_id].merged_into is not None:
            raise FailedPrecondition(f"{kind} customer {customer_id} is already merged into another")
    survivor, merged = rows[survivor_id], rows[merged_id]
    # Survivorship: the survivor's values win; a value only the merged record has fills the gap (most complete).
    filled = {
        column: [_text(getattr(survivor, column)), _text(getattr(merged, column))]
        for column in MERGE_FILLS
        if getattr(survivor, column) in (None, "") and getattr(merged, column) not in (None, "")
    }
    moved = await repository.move_sources(conn, from_id=merged_id, to_id=survivor_id)
    merge = await repository.insert_merge(
        conn,
        survivor_id=survivor_id,
        merged_id=merged_id,
        filled_fields=filled,
        moved_sources=[str(m) for m in moved],
        actor_id=actor.actor_id,
        reason=actor.reason,
    )
    values = {column: getattr(merged, column) for column in filled}
    survivor = await repository.update_customer(conn, customer_id=survivor_id, values=values) if values else survivor
    merged = await repository.update_customer(conn, customer_id=merged_id, values={"merged_into": survivor_id})
    await repository.insert_changes(
        conn,
        changes=[_change(survivor_id, column, None, values[column], actor) for column in filled]
        + [
            _change(survivor_id, "merge", None, f"{merged_id} (merge {merge.id})", actor),
            _change(merged_id, "merged_into", None, survivor_id, actor),
        ],
    )
    await runtime.stage(
        conn,
        CUSTOMER_MERGED,
        customer_events_pb2.CustomerMerged(
            merge_id=str(merge.id), survivor_id=str(survivor_id), merged_id=str(merged_id), at=_now_stamp()
        ),
    )
    return merge, survivor


async def unmerge(runtime: Runtime, conn: AsyncConnection, *, merge_id: uuid.UUID, actor: Actor) -> tuple[Row, Row]:
    """Undo a merge: the merged record lives again, its sources return, filled survivor fields are emptied."""
    merge = await repository.get_merge(conn, merge_id=merge_id)
    if merge is None:
        raise NotFound(f"merge {merge_id} not found")
    if merge.undone_at is not None:
        raise FailedPrecondition(f"merge {merge_id} was already undone")
    rows = await repository.lock_customers(conn, customer_ids=[merge.survivor_id, merge.merged_id])
    survivor = rows[merge.survivor_id]
    if survivor.merged_into is not None:
        raise FailedPrecondition("the survivor was merged again since; undo that merge first")
    # A filled field a steward changed since is the steward's value now: only untouched fills are taken back.
    restore = {
        column: before
        for column, (before, after) in merge.filled_fields.items()
        if _text(getattr(survivor, column)) == after
    }
    survivor = await repository.update_customer(conn, customer_id=survivor.id, values=restore) if restore else survivor
    await repository.move_sources(
        conn, from_id=merge.survivor_id, to_id=merge.merged_id, only=[uuid.UUID(s) for s in merge.moved_sources]
    )
    restored = await repository.update_customer(conn, customer_id=merge.merged_id, values={"merged_into": None})
    await repository.mark_merge_undone(conn, merge_id=merge_id)
    await repository.insert_changes(
        conn,
        changes=[
            _change(survivor.id, column, merge.filled_fields[column][1], restore[column], actor) for column in restore
        ]
        + [
            _change(survivor.id, "unmerge", f"{restored.id} (merge {merge_id})", None, actor),
            _change(restored.id, "merged_into", survivor.id, None, actor),
        ],
    )
    await runtime.stage(
        conn,
        CUSTOMER_UNMERGED,
        customer_events_pb2.CustomerUnmerged(
            merge_id=str(merge_id), survivor_id=str(survivor.id), restored_id=str(restored.id), at=_now_stamp()
        ),
    )
    return survivor, restored


async def decide_review(
    runtime: Runtime, conn: AsyncConnection, *, review_id: uuid.UUID, decision: str, actor: Actor
) -> tuple[Row, str]:
    """Accept (merge the new record into the candidate), reject (remember them as distinct) or defer."""
    if decision not in REVIEW_DECISIONS:
        raise InvalidArgument([FieldViolation("decision", "must be accept, reject or defer")])
    review = await repository.get_review(conn, review_id=review_id, for_update=True)
    if review is None:
        raise NotFound(f"review {review_id} not found")
    if review.status in ("accepted", "rejected"):
        raise FailedPrecondition(f"review {review_id} was already {review.status}")
    merge_id = ""
    if decision == "accept":
        merge, _ = await merge_customers(
            runtime, conn, survivor_id=review.candidate_id, merged_id=review.customer_id, actor=actor
        )
        merge_id = str(merge.id)
    review = await repository.decide_review(
        conn, review_id=review_id, status=REVIEW_DECISIONS[decision], actor_id=actor.actor_id, reason=actor.reason
    )
    return review, merge_id


def golden_owner(field: str, owners: dict[str, str]) -> str | None:
    """The role that owns a golden field, or None when anyone who may write may change it."""
    return owners.get(field)


def _column_value(field: str, value: str) -> Any:
    """The stored form of a field's new value (InvalidArgument when it cannot be one)."""
    if field == "credit_code":
        code = normalize_credit_code(value)
        if code and not valid_credit_code(code):
            raise InvalidArgument([FieldViolation("value", "is not a valid unified social credit code")])
        return code or None
    if field == "first_cooperation_date":
        try:
            return date.fromisoformat(value) if value else None
        except ValueError:
            raise InvalidArgument([FieldViolation("value", "must be an ISO date such as 2024-03-01")]) from None
    if field == "phone":
        return normalize_phone(value)
    if field == "email":
        return normalize_email(value)
    return value.strip() or (None if field != "name" else "")


async def update_field(
    runtime: Runtime,
    conn: AsyncConnection,
    *,
    customer_id: uuid.UUID,
    field: str,
    value: str,
    actor: Actor,
    owners: dict[str, str],
) -> Row:
    """Change one field; a golden field only by its owning role; the change goes to the history."""
    if field not in FIELD_COLUMNS:
        raise InvalidArgument([FieldViolation("field", f"must be one of {', '.join(FIELD_COLUMNS)}")])
    owner = golden_owner(field, owners)
    if owner is not None and actor.role != owner:
        raise PermissionDenied(f"{field} is a golden field owned by {owner}; file a change request instead")
    rows = await repository.lock_customers(conn, customer_ids=[customer_id])
    if customer_id not in rows:
        raise NotFound(f"customer {customer_id} not found")
    return await _apply_field(runtime, conn, customer=rows[customer_id], field=field, value=value, actor=actor)


async def _apply_field(
    runtime: Runtime,
    conn: AsyncConnection,
    *,
    customer: Row,
    field: str,
    value: str,
    actor: Actor,
    change_request_id: uuid.UUID | None = None,
) -> Row:
    """Write one field of a locked customer, its search keys and its history row, and stage the event."""
    customer_id = customer.id
    column = FIELD_COLUMNS[field]
    new = _column_value(field, value)
    old = getattr(customer, column)
    values: dict[str, Any] = {column: new}
    if field == "steward_id":
        # A named steward ends the wait for one.
        values["steward_needed"] = False
    if field == "company":
        values["company_normalized"] = normalize_company(value)
        values["company_latin"] = normalize_company_name(value).latin or None if value.strip() else None
    customer = await repository.update_customer(conn, customer_id=customer_id, values=values)
    if field == "company":
        grams = normalize_company_name(value).grams if value.strip() else []
        await repository.replace_grams(conn, customer_id=customer_id, grams=grams)
    await repository.insert_changes(conn, changes=[_change(customer_id, field, old, new, actor, change_request_id)])
    await runtime.stage(
        conn,
        CUSTOMER_UPDATED,
        customer_events_pb2.CustomerUpdated(customer_id=str(customer_id), field=field, at=_now_stamp()),
    )
    return customer


async def file_change_request(
    conn: AsyncConnection, *, customer_id: uuid.UUID, field: str, value: str, actor: Actor
) -> uuid.UUID:
    """Record a request to change a golden field (the history shows it too)."""
    if field not in FIELD_COLUMNS:
        raise InvalidArgument([FieldViolation("field", f"must be one of {', '.join(FIELD_COLUMNS)}")])
    if not actor.actor_id:
        raise InvalidArgument([FieldViolation("actor_id", "is required")])
    customer = await repository.get_customer(conn, customer_id=customer_id)
    if customer is None:
        raise NotFound(f"customer {customer_id} not found")
    # A value that could never be applied is refused now rather than at approval.
    _column_value(field, value)
    request_id = await repository.insert_change_request_with_old(
        conn,
        customer_id=customer_id,
        field=field,
        value=value,
        old_value=_text(getattr(customer, FIELD_COLUMNS[field])),
        actor_id=actor.actor_id,
        reason=actor.reason,
    )
    await repository.insert_changes(
        conn, changes=[_change(customer_id, f"change_request:{field}", None, value, actor, request_id)]
    )
    return request_id


class StaleChangeRequest(DomainError):
    """The record changed since the request was filed: applying it would overwrite a change nobody weighed."""

    code = grpc.StatusCode.ABORTED


def change_request_owner(field: str, owners: dict[str, str], default_owner: str) -> str:
    """The role that decides requests on a field: its golden owner, else the default owning role."""
    return owners.get(field, default_owner)


async def _open_request(
    conn: AsyncConnection, *, request_id: uuid.UUID, actor: Actor, owner_of: Callable[[str], str]
) -> Row:
    """The request, locked, when it is still open and the actor's role owns its field."""
    if not actor.actor_id:
        raise InvalidArgument([FieldViolation("actor_id", "is required")])
    request = await repository.get_change_request(conn, request_id=request_id, for_update=True)
    if request is None:
        raise NotFound(f"change request {request_id} not found")
    owner = owner_of(request.field)
    if actor.role != owner:
        raise PermissionDenied(f"only the role {owner} decides changes to {request.field}")
    if request.status != "open":
        raise FailedPrecondition(
            f"change request {request_id} was already {request.status} by {request.decided_by} at {request.decided_at}"
        )
    return request


async def approve_change_request(
    runtime: Runtime,
    conn: AsyncConnection,
    *,
    request_id: uuid.UUID,
    actor: Actor,
    owners: dict[str, str],
    default_owner: str,
) -> tuple[Row, Row]:
    """Apply a request as its owner: refused when the field no longer holds the value it had at filing."""
    request = await _open_request(
        conn, request_id=request_id, actor=actor, owner_of=lambda f: change_request_owner(f, owners, default_owner)
    )
    rows = await repository.lock_customers(conn, customer_ids=[request.customer_id])
    customer = rows[request.customer_id]
    if customer.merged_into is not None:
        raise FailedPrecondition(f"customer {customer.id} was merged into {customer.merged_into}; file it there")
    current = _text(getattr(customer, FIELD_COLUMNS[request.field]))
    if current != request.old_value:
        raise StaleChangeRequest(
            f"{request.field} changed since the request was filed (it was {request.old_value!r}, it is {current!r});"
            " reject this request and file a new one against the current value"
        )
    why = actor.reason or request.reason
    applied = Actor(
        actor.actor_id, actor.role, f"change request {request.id}: {why}" if why else f"change request {request.id}"
    )
    customer = await _apply_field(
        runtime,
        conn,
        customer=customer,
        field=request.field,
        value=request.value,
        actor=applied,
        change_request_id=request.id,
    )
    decided = await repository.decide_change_request(
        conn,
        request_id=request_id,
        status="approved",
        decided_by=actor.actor_id,
        decided_role=actor.role,
        reason=actor.reason,
    )
    return decided, customer


async def reject_change_request(
    conn: AsyncConnection, *, request_id: uuid.UUID, actor: Actor, owners: dict[str, str], default_owner: str
) -> Row:
    """Close a request unapplied, as its owner, with a reason (the history keeps the decision)."""
    if not actor.reason.strip():
        raise InvalidArgument([FieldViolation("reason", "is required: say why the change is refused")])
    request = await _open_request(
        conn, request_id=request_id, actor=actor, owner_of=lambda f: change_request_owner(f, owners, default_owner)
    )
    decided = await repository.decide_change_request(
        conn,
        request_id=request_id,
        status="rejected",
        decided_by=actor.actor_id,
        decided_role=actor.role,
        reason=actor.reason,
    )
    await repository.insert_changes(
        conn,
        changes=[
            _change(request.customer_id, f"change_request:{request.field}", request.value, None, actor, request.id)
        ],
    )
    return decided


async def reassign_steward(conn: AsyncConnection, *, from_rep_id: str, to_rep_id: str, actor: Actor) -> int:
    """Move stewardship of every account of a departing rep; each account's history records it."""
    violations = [
        FieldViolation(name, "is required")
        for name, v in (("from_rep_id", from_rep_id), ("to_rep_id", to_rep_id))
        if not v
    ]
    if violations:
        raise InvalidArgument(violations)
    moved = await repository.reassign_steward(conn, from_rep_id=from_rep_id, to_rep_id=to_rep_id)
    await repository.insert_changes(
        conn, changes=[_change(customer_id, "steward_id", from_rep_id, to_rep_id, actor) for customer_id in moved]
    )
    return len(moved)


async def hand_over_accounts(
    conn: AsyncConnection, *, rep_id: str, successor_id: str, manager_id: str, why: str
) -> tuple[str, int]:
    """A departed rep's accounts go to the successor, else the team manager, else are flagged "steward needed".

    Returns (the new steward, or "" when none, and how many accounts the handover touched).
    """
    if not rep_id:
        raise InvalidArgument([FieldViolation("rep_id", "is required")])
    target = next((who for who in (successor_id, manager_id) if who and who != rep_id), "")
    if target:
        role = "successor" if target == successor_id else "team manager"
        actor = Actor("crm.lead.rep_deactivated", "system", f"{why}; handed to the {role}")
        return target, await reassign_steward(conn, from_rep_id=rep_id, to_rep_id=target, actor=actor)
    flagged = await repository.mark_steward_needed(conn, rep_id=rep_id)
    actor = Actor("crm.lead.rep_deactivated", "system", f"{why}; no successor and no team manager")
    await repository.insert_changes(
        conn, changes=[_change(customer_id, "steward_needed", "false", "true", actor) for customer_id in flagged]
    )
    return "", len(flagged)


@dataclass(frozen=True)
class DataHealth:
    """The data-health figures."""

    customers: int
    duplicate_rate: float
    missing_phone: int
    missing_credit_code: int
    stale_records: int
    review_queue_size: int
    steward_needed: int = 0
    # Duplicates the latest dedup job over the base found (auto-matched) that are not merged yet.
    suspected_duplicates: int = 0


async def data_health(conn: AsyncConnection, *, stale_after_days: int) -> DataHealth:
    """Compute the figures and publish them as gauges."""
    counts = await repository.data_health(
        conn, stale_before=datetime.now(UTC) - timedelta(days=stale_after_days or 365)
    )
    total = counts["customers"] + counts["merged"]
    health = DataHealth(
        customers=counts["customers"],
        duplicate_rate=counts["merged"] / total if total else 0.0,
        missing_phone=counts["missing_phone"],
        missing_credit_code=counts["missing_credit_code"],
        stale_records=counts["stale_records"],
        review_queue_size=counts["review_queue_size"],
        steward_needed=counts["steward_needed"],
        suspected_duplicates=counts["suspected_duplicates"],
    )
    CUSTOMER_DUPLICATE_RATE.set(health.duplicate_rate)
    CUSTOMER_RECORDS_MISSING.labels("phone").set(health.missing_phone)
    CUSTOMER_RECORDS_MISSING.labels("credit_code").set(health.missing_credit_code)
    CUSTOMER_STALE_RECORDS.set(health.stale_records)
    CUSTOMER_REVIEW_QUEUE_SIZE.set(health.review_queue_size)
    CUSTOMER_RECORDS_MISSING.labels("steward").set(health.steward_needed)
    return health


def parse_rules(data: dict[str, Any]) -> MatchRules:
    """Match rules from their JSON form, or InvalidArgument naming what is wrong."""
    try:
        rules = MatchRules.from_dict(data)
    except (TypeError, ValueError) as exc:
        raise InvalidArgument([FieldViolation("rules_json", str(exc))]) from None
    problems = rules.problems()
    if problems:
        raise InvalidArgument([FieldViolation(f"rules_json.{name}", text) for name, text in problems])
    return rules


def _now_stamp() -> Any:
    from google.protobuf.timestamp_pb2 import Timestamp

    stamp = Timestamp()
    stamp.GetCurrentTime()
    return stamp
