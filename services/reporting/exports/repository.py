"""The export audit: every export recorded before its first byte, its row count when it ends."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection


async def record_export(
    conn: AsyncConnection,
    *,
    report: str,
    fmt: str,
    parameters: Mapping[str, str],
    subject: str,
    role: str,
    client: str,
    request_id: str,
) -> str:
    """Record an export starting; returns its id."""
    export_id = str(uuid.uuid4())
    await conn.execute(
        text("""INSERT INTO reporting.export_audit (id, report, format, parameters, subject, role,
        client, request_id) VALUES (:id, :report, :format, CAST(:parameters AS jsonb), :subject, :role, :client,
        :request_id)"""),
        {
            "id": export_id,
            "report": report,
            "format": fmt,
            "parameters": json.dumps(dict(parameters)),
            "subject": subject,
            "role": role,
            "client": client,
            "request_id": request_id,
        },
    )
    return export_id


async def finish_export(conn: AsyncConnection, *, export_id: str, rows: int) -> None:
    """The number of rows an export wrote."""
    await conn.execute(
        text("UPDATE reporting.export_audit SET rows = :rows WHERE id = :id"), {"id": export_id, "rows": rows}
    )


async def list_exports(conn: AsyncConnection, *, limit: int) -> list[Any]:
    """The newest exports first."""
    return list(
        (
            await conn.execute(
                text("""SELECT id, report, format, parameters, subject, role, client, request_id,
        rows, exported_at FROM reporting.export_audit ORDER BY exported_at DESC, id LIMIT :limit"""),
                {"limit": limit},
            )
        ).mappings()
    )
