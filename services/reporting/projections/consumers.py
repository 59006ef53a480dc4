"""Lead and pipeline events applied to the projections; each batch in one transaction with the inbox."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from google.protobuf.message import Message
from sqlalchemy.ext.asyncio import AsyncConnection

from crm_common.bus.consumer import ConsumerSpec, EventMeta
from crm_common.metrics import PROJECTION_LAG
from reporting.convert import from_timestamp
from reporting.projections import repository as repo

Apply = Callable[[AsyncConnection, Any, EventMeta, Mapping[str, str]], Awaitable[None]]


def _at(stamp: Any, meta: EventMeta) -> Any:
    return from_timestamp(stamp) or meta.published_at


def _key(message: Message, field: str) -> str:
    # An event without its key cannot be projected; raising sends it to the dead letters for an operator.
    value = getattr(message, field)
    if not value:
        raise ValueError(f"event without {field}")
    return value


async def _captured(conn: AsyncConnection, m: Any, meta: EventMeta, tables: Mapping[str, str]) -> None:
    await repo.lead_captured(
        conn,
        tables=tables,
        lead_id=_key(m, "lead_id"),
        channel=m.channel or None,
        province=m.province or None,
        industry=m.industry or None,
        customer_id=m.customer_id or None,
        captured_at=_at(m.captured_at, meta),
    )


async def _assigned(conn: AsyncConnection, m: Any, meta: EventMeta, tables: Mapping[str, str]) -> None:
    await repo.lead_assigned(
        conn,
        tables=tables,
        lead_id=_key(m, "lead_id"),
        rep_id=m.assignee_id or None,
        team_id=m.team_id or None,
        channel=m.channel or None,
        captured_at=from_timestamp(m.captured_at),
        assigned_at=_at(m.assigned_at, meta),
    )


async def _reassigned(conn: AsyncConnection, m: Any, meta: EventMeta, tables: Mapping[str, str]) -> None:
    await repo.lead_reassigned(
        conn, tables=tables, lead_id=_key(m, "lead_id"), rep_id=m.to_rep_id or None, at=_at(m.at, meta)
    )


async def _claimed(conn: AsyncConnection, m: Any, meta: EventMeta, tables: Mapping[str, str]) -> None:
    await repo.lead_touched(conn, tables=tables, lead_id=_key(m, "lead_id"), at=_at(m.claimed_at, meta), claimed=True)


async def _contacted(conn: AsyncConnection, m: Any, meta: EventMeta, tables: Mapping[str, str]) -> None:
    await repo.lead_touched(
        conn, tables=tables, lead_id=_key(m, "lead_id"), at=_at(m.contacted_at, meta), first_contact=m.first_contact
    )


async def _returned(conn: AsyncConnection, m: Any, meta: EventMeta, tables: Mapping[str, str]) -> None:
    await repo.lead_touched(conn, tables=tables, lead_id=_key(m, "lead_id"), at=_at(m.at, meta), pool_return=True)


async def _escalated(conn: AsyncConnection, m: Any, meta: EventMeta, tables: Mapping[str, str]) -> None:
    # Only a lapsed claim window is an assignment-health figure; other clocks are the lead service's.
    if m.kind == "claim_window":
        await repo.lead_touched(conn, tables=tables, lead_id=_key(m, "lead_id"), at=_at(m.at, meta), claim_lapsed=True)


async def _opened(conn: AsyncConnection, m: Any, meta: EventMeta, tables: Mapping[str, str]) -> None:
    await repo.opportunity_opened(
        conn,
        tables=tables,
        opportunity_id=_key(m, "opportunity_id"),
        lead_id=m.lead_id or None,
        customer_id=m.customer_id or None,
        owner_id=m.owner_id or None,
        stage=m.stage,
        opened_at=_at(m.opened_at, meta),
    )


async def _stage_changed(conn: AsyncConnection, m: Any, meta: EventMeta, tables: Mapping[str, str]) -> None:
    await repo.stage_changed(
        conn,
        tables=tables,
        opportunity_id=_key(m, "opportunity_id"),
        pipeline=m.pipeline or None,
        from_stage=m.from_stage or None,
        to_stage=m.to_stage,
        status=m.status or "open",
        owner_id=m.owner_id or None,
        team_id=m.team_id or None,
        at=_at(m.at, meta),
    )


async def _action(conn: AsyncConnection, m: Any, meta: EventMeta, tables: Mapping[str, str]) -> None:
    await repo.action_completed(
        conn,
        tables=tables,
        opportunity_id=_key(m, "opportunity_id"),
        stage=m.stage,
        action=_key(m, "action"),
        at=_at(m.at, meta),
    )


async def _handover(conn: AsyncConnection, m: Any, meta: EventMeta, tables: Mapping[str, str]) -> None:
    if m.to_owner_id:
        await repo.handed_over(conn, tables=tables, opportunity_id=_key(m, "opportunity_id"), owner_id=m.to_owner_id)


async def _sub_state(conn: AsyncConnection, m: Any, meta: EventMeta, tables: Mapping[str, str]) -> None:
    # Entering the first sub-state ends no stay: nothing to measure.
    if m.from_sub_state:
        await repo.sub_state_left(
            conn,
            tables=tables,
            opportunity_id=_key(m, "opportunity_id"),
            stage=m.stage,
            sub_state=m.from_sub_state,
            seconds=m.seconds_in_sub_state,
            at=_at(m.at, meta),
        )


# subject → (projection tables it writes, how). The rebuild reads the same map.
APPLY: dict[str, tuple[tuple[str, ...], Apply]] = {
    "crm.lead.captured": (("lead_fact",), _captured),
    "crm.lead.assigned": (("lead_fact",), _assigned),
    "crm.lead.reassigned": (("lead_fact",), _reassigned),
    "crm.lead.claimed": (("lead_fact",), _claimed),
    "crm.lead.contacted": (("lead_fact",), _contacted),
    "crm.lead.returned_to_pool": (("lead_fact",), _returned),
    "crm.lead.escalated": (("lead_fact",), _escalated),
    "crm.pipeline.opportunity_opened": (("opportunity_fact", "stage_visit"), _opened),
    "crm.pipeline.stage_changed": (("opportunity_fact", "stage_visit"), _stage_changed),
    "crm.pipeline.action_completed": (("stage_action",), _action),
    "crm.pipeline.handover": (("opportunity_fact",), _handover),
    "crm.pipeline.sub_state_changed": (("sub_state_dwell",), _sub_state),
}


def durable_of(subject: str) -> str:
    """The live consumer of a subject: reporting-<service>-<event>, beside the lead-response ones."""
    return "reporting-fact-" + subject.removeprefix("crm.").replace(".", "-").replace("_", "-")


def _lag(durable: str, meta: EventMeta) -> None:
    PROJECTION_LAG.labels(durable).set(max((datetime.now(UTC) - meta.published_at).total_seconds(), 0.0))


def _handlers(durable: str, apply: Apply) -> tuple[Any, Any]:
    async def one(conn: AsyncConnection, message: Message, meta: EventMeta) -> None:
        await apply(conn, message, meta, repo.LIVE)
        _lag(durable, meta)

    async def batch(conn: AsyncConnection, events: Sequence[tuple[Message, EventMeta]]) -> None:
        # The batch's statements are collected and sent as executemany runs: one round trip per run, in order.
        statements: list[tuple[str, dict[str, object]]] = []
        conn.info[repo.COLLECT] = statements
        try:
            for message, meta in events:
                await apply(conn, message, meta, repo.LIVE)
        finally:
            conn.info.pop(repo.COLLECT, None)
        await repo.flush(conn, statements)
        if events:
            _lag(durable, events[-1][1])

    return one, batch


def _order_key(message: Message) -> str:
    # Consumers writing one lead's or one opportunity's row take their locks in one order: no deadlocks.
    return getattr(message, "opportunity_id", "") or getattr(message, "lead_id", "")


LINGER_SECONDS = 0.5

CONSUMERS = [
    ConsumerSpec(
        durable=durable_of(subject),
        subject=subject,
        handler=one,
        batch_handler=batch,
        order_by=_order_key,
        linger_seconds=LINGER_SECONDS,
    )
    for subject, (_, apply) in APPLY.items()
    for one, batch in [_handlers(durable_of(subject), apply)]
]
