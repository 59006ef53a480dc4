"""An export: the audit record, the watermark, and the report's rows through a writer."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

from crm_common.db import Database
from crm_common.errors import FieldViolation, InvalidArgument
from crm_common.identity import Principal
from reporting.exports import repository as repo
from reporting.exports.writers import WRITERS
from reporting.reports import repository as reports_repo
from reporting.reports.domain import Question
from reporting.reports.runner import Answer

# The column order of the drill-down, the one export that streams from a cursor.
DRILL_DOWN_COLUMNS = ("opportunity_id", "owner_id", "team_id", "entered_at", "left_at")


def watermark(*, principal: Principal, caller_name: str, client: str, request_id: str, at: datetime) -> str:
    """Who exported (the key's name and role), when, from which client, with which request id."""
    who = caller_name or principal.subject
    return (
        f"exported by {who} (role {principal.role.value}, subject {principal.subject}) at {at.isoformat()} "
        f"from {client or 'unknown client'} request {request_id or '-'}"
    )


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested objects as dotted columns (group.team, stages.won, time_to_assignment.p50)."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, inner in value.items():
            out |= flatten(inner, f"{prefix}{key}.")
        return out
    if isinstance(value, list):
        return {prefix[:-1]: ", ".join(str(v) for v in value)}
    return {prefix[:-1]: value}


def rows_of_body(body: dict[str, Any]) -> tuple[list[str], list[dict[str, Any]]]:
    """A report body as rows: its one list (rows, cells, opportunities), else the body as one row."""
    lists = [v for v in body.values() if isinstance(v, list)]
    items = [flatten(item) for item in lists[0]] if len(lists) == 1 else [flatten(body)]
    columns: dict[str, None] = {}
    for item in items:
        columns |= dict.fromkeys(item)
    return list(columns), items


def check_format(fmt: str) -> str:
    """csv or xlsx."""
    if fmt not in WRITERS:
        raise InvalidArgument([FieldViolation("format", "must be csv or xlsx")])
    return fmt


async def export(
    db: Database,
    question: Question,
    *,
    fmt: str,
    principal: Principal,
    caller_name: str,
    client: str,
    request_id: str,
    answer: Answer | None,
) -> AsyncIterator[bytes]:
    """The file's bytes; the export is audited before the first byte and its row count after the last."""
    async with db.transaction() as conn:
        export_id = await repo.record_export(
            conn,
            report=question.report,
            fmt=fmt,
            parameters=question.parameters,
            subject=principal.subject,
            role=principal.role.value,
            client=client,
            request_id=request_id,
        )
    mark = watermark(
        principal=principal, caller_name=caller_name, client=client, request_id=request_id, at=datetime.now(UTC)
    )
    count = 0

    async def counted(rows: AsyncIterator[Sequence[Any]]) -> AsyncIterator[Sequence[Any]]:
        nonlocal count
        async for row in rows:
            count += 1
            yield row

    if answer is None:  # the drill-down: every row from a server-side cursor
        p = question.parameters
        async with db.connect() as conn:
            source = reports_repo.stream_stage_action_opportunities(
                conn,
                pipeline=p.get("pipeline", ""),
                stage=p.get("stage", ""),
                action=p.get("action", ""),
                visibility=question.visibility,
            )

            async def drill() -> AsyncIterator[Sequence[Any]]:
                async for item in source:
                    yield [item[c] for c in DRILL_DOWN_COLUMNS]

            async for chunk in WRITERS[fmt](mark, DRILL_DOWN_COLUMNS, counted(drill())):
                yield chunk
    else:
        columns, items = rows_of_body(answer.body)

        async def listed() -> AsyncIterator[Sequence[Any]]:
            for item in items:
                yield [item.get(c) for c in columns]

        async for chunk in WRITERS[fmt](mark, columns, counted(listed())):
            yield chunk
    async with db.transaction() as conn:
        await repo.finish_export(conn, export_id=export_id, rows=count)
