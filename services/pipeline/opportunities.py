"""Opening opportunities and changing what is not their stage: fields, sub-state, block reason."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import date
from decimal import Decimal, InvalidOperation
from types import SimpleNamespace
from typing import Any

from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from crm.events.v1 import pipeline_events_pb2
from crm_common.access import Action, Owner, Resource, decide
from crm_common.bus.consumer import after_commit
from crm_common.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound, PermissionDenied
from crm_common.identity import Principal
from pipeline import access, repository
from pipeline.convert import to_timestamp
from pipeline.definitions import repository as definitions
from pipeline.deps import Deps
from pipeline.stages import repository as stages_repo
from pipeline.stages.move import Conflict
from pipeline.stalls.clock import first_due

OPPORTUNITY_OPENED = "crm.pipeline.opportunity_opened"
SUB_STATE_CHANGED = "crm.pipeline.sub_state_changed"
BLOCK_REASON_SET = "crm.pipeline.block_reason_set"
IDEMPOTENCY_FIELD = "Idempotency-Key"
MAX_KEY = 200
UPDATABLE = ("name", "amount", "currency", "expected_close_date", "customer_id", "next_step_at")
MAX_NAME = 200


def amount_of(value: str, field: str = "amount") -> Decimal | None:
    if value in ("", None):
        return None
    try:
        parsed = Decimal(value)
    except InvalidOperation:
        raise InvalidArgument([FieldViolation(field, "must be a decimal number")]) from None
    if not parsed.is_finite() or parsed < 0 or parsed >= Decimal("1e16"):
        raise InvalidArgument([FieldViolation(field, "must be a number from 0 to 10^16")])
    return parsed.quantize(Decimal("0.01"))


def date_of(value: str, field: str = "expected_close_date") -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidArgument([FieldViolation(field, "must be a date YYYY-MM-DD")]) from None


def _currency(value: str) -> str:
    if len(value) != 3 or not value.isascii() or not value.isalpha():
        raise InvalidArgument([FieldViolation("currency", "must be a three-letter ISO 4217 code such as CNY")])
    return value.upper()


def _name(value: str) -> str:
    value = value.strip()
    if not value or len(value) > MAX_NAME:
        raise InvalidArgument([FieldViolation("name", f"is required, at most {MAX_NAME} characters")])
    return value


async def create(
    conn: AsyncConnection,
    deps: Deps,
    *,
    principal: Principal,
    customer_id: str,
    name: str,
    amount: str,
    currency: str,
    owner_id: str,
    pipeline_key: str,
    lead_id: str = "",
    expected_close_date: str = "",
    idempotency_key: str = "",
) -> Row:
    """A new opportunity in the first stage of the live version of its pipeline (once per idempotency key)."""
    bad = [FieldViolation(f, "is required") for f, v in (("customer_id", customer_id), ("owner_id", owner_id)) if not v]
    if len(idempotency_key) > MAX_KEY:
        bad.append(FieldViolation(IDEMPOTENCY_FIELD, f"at most {MAX_KEY} characters"))
    if bad:
        raise InvalidArgument(bad)
    scope = access.actor(principal)
    if idempotency_key:
        body = [customer_id, name, amount, currency, owner_id, pipeline_key, lead_id, expected_close_date]
        digest = hashlib.sha256(json.dumps(body).encode()).hexdigest()
        claimed = await repository.claim_idempotency_key(
            conn, scope=scope, key=idempotency_key, request_sha256=digest, at=deps.now()
        )
        if claimed is None:
            earlier = await repository.get_idempotency_key(conn, scope=scope, key=idempotency_key)
            if earlier is None or earlier.request_sha256 != digest or earlier.opportunity_id is None:
                raise InvalidArgument([FieldViolation(IDEMPOTENCY_FIELD, "was used before with another request body")])
            found = await repository.get_opportunity(conn, opportunity_id=earlier.opportunity_id)
            assert found is not None
            return found
    values: dict[str, Any] = {
        "name": _name(name), "amount": amount_of(amount), "currency": _currency(currency),
        "expected_close_date": date_of(expected_close_date),
    }
    row = await definitions.get_row(conn, key=pipeline_key or "default")
    if row is None:
        raise InvalidArgument([FieldViolation("pipeline", f"unknown pipeline {pipeline_key!r}")])
    pipeline = definitions.of_row(row)
    owner = await deps.directory.owner(owner_id)
    verdict = decide(principal, Resource.OPPORTUNITY, Action.CREATE, owner=Owner.of(reps=[owner_id], teams=[owner.team_id]))
    if not verdict.allowed:
        raise PermissionDenied(f"the caller may not open an opportunity for {owner_id}: {verdict.reason}")
    now = deps.now()
    first = pipeline.first
    calendar = owner.calendar if first.stall_clock == "business" else None
    due = first_due(first, sub_state="", since=now, sub_state_since=None, next_step_at=None, calendar=calendar)
    created = await repository.create_opportunity(
        conn,
        values=values | {
            "id": uuid.uuid4(), "lead_id": lead_id or None, "customer_id": customer_id, "owner_id": owner_id,
            "team_id": owner.team_id, "stage": first.key, "opened_at": now, "stage_entered_at": now,
            "pipeline_key": pipeline.key, "pipeline_version": pipeline.version,
            "stall_due_at": due.at if due else None, "stall_kind": due.kind if due else "",
        },
        by=access.actor(principal),
    )
    if created is None:
        raise FailedPrecondition(f"lead {lead_id} already has an opportunity")
    await deps.runtime.stage(
        conn,
        OPPORTUNITY_OPENED,
        pipeline_events_pb2.OpportunityOpened(
            opportunity_id=str(created.id), lead_id=created.lead_id or "", customer_id=created.customer_id or "",
            owner_id=created.owner_id or "", stage=created.stage, opened_at=to_timestamp(created.opened_at),
        ),
    )
    if idempotency_key:
        await repository.settle_idempotency_key(conn, scope=scope, key=idempotency_key, opportunity_id=created.id)
    if deps.on_due_changed is not None:
        after_commit(conn, deps.on_due_changed)
    return created


async def _locked(conn: AsyncConnection, opportunity_id: uuid.UUID, principal: Principal, action: Action) -> Row:
    row = await stages_repo.lock(conn, opportunity_id=opportunity_id)
    if row is None:
        raise NotFound(f"opportunity {opportunity_id} not found")
    access.require(principal, row, action)
    return row


def _with(row: Row, **changes: Any) -> Any:
    """The row as it will be after changes (for computing its clock before writing them)."""
    return SimpleNamespace(**(dict(row._mapping) | changes))


async def _restart_clock(conn: AsyncConnection, deps: Deps, row: Any) -> dict[str, Any]:
    """The stall clock's columns for the opportunity as it now is (a changed sub-state or next step restarts it)."""
    if row.status != "open":
        return {"stall_due_at": None, "stall_kind": "", "stall_level": 0}
    pipeline = await definitions.load(conn, key=row.pipeline_key, version=row.pipeline_version)
    stage = pipeline.stage(row.stage)
    assert stage is not None
    calendar = (await deps.directory.owner(row.owner_id or "")).calendar if stage.stall_clock == "business" else None
    due = first_due(
        stage, sub_state=row.sub_state, since=row.stage_entered_at, sub_state_since=row.sub_state_entered_at,
        next_step_at=row.next_step_at, calendar=calendar,
    )
    now = deps.now()
    if due is not None and due.at < now and row.stalled:
        # Already stalled and told: the next thing is the re-escalation already scheduled, not a second stall.
        return {}
    if deps.on_due_changed is not None:
        after_commit(conn, deps.on_due_changed)
    return {"stall_due_at": due.at if due else None, "stall_kind": due.kind if due else "", "stall_level": 0}


async def update(
    conn: AsyncConnection,
    deps: Deps,
    *,
    opportunity_id: uuid.UUID,
    principal: Principal,
    changes: dict[str, Any],
    version: int = 0,
) -> Row:
    """Change fields (never the stage: that has one path, pipeline.stages.move)."""
    unknown = [FieldViolation(f"/{k}", "is not a field that may be changed here") for k in changes if k not in UPDATABLE]
    if unknown:
        raise InvalidArgument(unknown)
    values: dict[str, Any] = {}
    for key, value in changes.items():
        if key == "name":
            values[key] = _name(value)
        elif key == "amount":
            values[key] = amount_of(value)
        elif key == "currency":
            values[key] = _currency(value)
        elif key == "expected_close_date":
            values[key] = date_of(value)
        elif key == "customer_id":
            values[key] = value or None
        else:
            values[key] = value
    row = await _locked(conn, opportunity_id, principal, Action.UPDATE)
    if version and row.version != version:
        raise Conflict(f"the opportunity is at version {row.version}, not {version}: read it again")
    if "next_step_at" in values:
        values |= await _restart_clock(conn, deps, _with(row, next_step_at=values["next_step_at"]))
    updated = await stages_repo.bump(conn, opportunity_id=row.id, version=row.version, values=values)
    assert updated is not None  # the row is locked
    return updated


async def set_sub_state(
    conn: AsyncConnection, deps: Deps, *, opportunity_id: uuid.UUID, sub_state: str, principal: Principal
) -> Row:
    row = await _locked(conn, opportunity_id, principal, Action.ACT)
    pipeline = await definitions.load(conn, key=row.pipeline_key, version=row.pipeline_version)
    stage = pipeline.stage(row.stage)
    assert stage is not None
    if sub_state and sub_state not in {s.key for s in stage.sub_states}:
        known = ", ".join(s.key for s in stage.sub_states) or "none"
        raise InvalidArgument([FieldViolation("sub_state", f"stage {stage.key!r} has no sub-state {sub_state!r} ({known})")])
    if sub_state == row.sub_state:
        return row
    now, by = deps.now(), access.actor(principal)
    since = row.sub_state_entered_at or row.stage_entered_at
    await stages_repo.add_sub_state(conn, opportunity_id=row.id, stage=row.stage, sub_state=sub_state, at=now, by=by)
    moved = _with(row, sub_state=sub_state, sub_state_entered_at=now, stalled=False)
    values = {"sub_state": sub_state, "sub_state_entered_at": now, "stalled": False} | await _restart_clock(conn, deps, moved)
    updated = await stages_repo.bump(conn, opportunity_id=row.id, version=row.version, values=values)
    await deps.runtime.stage(
        conn,
        SUB_STATE_CHANGED,
        pipeline_events_pb2.SubStateChanged(
            opportunity_id=str(row.id), stage=row.stage, from_sub_state=row.sub_state, to_sub_state=sub_state,
            seconds_in_sub_state=(now - since).total_seconds(), by=by, at=to_timestamp(now),
        ),
    )
    assert updated is not None
    return updated


async def set_block_reason(
    conn: AsyncConnection, deps: Deps, *, opportunity_id: uuid.UUID, reason: str, principal: Principal
) -> Row:
    row = await _locked(conn, opportunity_id, principal, Action.ACT)
    pipeline = await definitions.load(conn, key=row.pipeline_key, version=row.pipeline_version)
    if reason not in pipeline.block_reasons:
        raise InvalidArgument(
            [FieldViolation("reason", f"is not a block reason of pipeline {pipeline.key!r}: {', '.join(pipeline.block_reasons)}")]
        )
    now, by = deps.now(), access.actor(principal)
    updated = await stages_repo.bump(conn, opportunity_id=row.id, version=row.version, values={"block_reason": reason})
    await deps.runtime.stage(
        conn,
        BLOCK_REASON_SET,
        pipeline_events_pb2.BlockReasonSet(opportunity_id=str(row.id), stage=row.stage, reason=reason, by=by, at=to_timestamp(now)),
    )
    assert updated is not None
    return updated
