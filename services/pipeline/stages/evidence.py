"""Evidence for required actions: contacts, files (typed by content) and confirmations; each completion is an event."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass

import filetype
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from crm.events.v1 import pipeline_events_pb2
from crm_common.access import Action as Act
from crm_common.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound
from crm_common.identity import Principal
from pipeline import access
from pipeline.convert import to_timestamp
from pipeline.definitions import repository as definitions
from pipeline.definitions.model import Action, Stage
from pipeline.deps import Deps
from pipeline.stages import gates
from pipeline.stages import repository as repo

ACTION_COMPLETED = "crm.pipeline.action_completed"
DEFAULT_MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_TEXT = 2000


class TooLarge(InvalidArgument):
    """A file over the service's limit (413 at the edge)."""


@dataclass(frozen=True)
class Sniffed:
    media_type: str
    sha256: str
    size: int


def sniff(content: bytes) -> Sniffed:
    """The media type of a document judged by its bytes (never its name), its digest and size."""
    kind = filetype.guess(content)
    media_type = kind.mime if kind is not None else _text_or_binary(content)
    return Sniffed(media_type=media_type, sha256=hashlib.sha256(content).hexdigest(), size=len(content))


def _text_or_binary(content: bytes) -> str:
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        return "application/octet-stream"
    return "text/plain"


async def _open_stage(conn: AsyncConnection, *, opportunity_id: uuid.UUID, principal: Principal) -> tuple[Row, Stage]:
    row = await repo.lock(conn, opportunity_id=opportunity_id)
    if row is None:
        raise NotFound(f"opportunity {opportunity_id} not found")
    access.require(principal, row, Act.ACT)
    if row.status != "open":
        raise FailedPrecondition(f"the opportunity is {row.status}: evidence is recorded on open deals")
    pipeline = await definitions.load(conn, key=row.pipeline_key, version=row.pipeline_version)
    stage = pipeline.stage(row.stage)
    assert stage is not None
    return row, stage


def _action_of(stage: Stage, key: str, kind: str) -> Action:
    action = next((a for a in stage.actions if a.key == key), None)
    if action is None:
        known = ", ".join(a.key for a in stage.actions) or "none"
        raise InvalidArgument([FieldViolation("action", f"stage {stage.key!r} has no action {key!r} (actions: {known})")])
    if action.kind != kind:
        raise InvalidArgument([FieldViolation("action", f"action {key!r} needs {action.kind} evidence, not {kind}")])
    return action


async def _announce_completions(
    conn: AsyncConnection, deps: Deps, *, row: Row, stage: Stage, before: gates.Facts, by: str
) -> None:
    """An ActionCompleted event for every action this evidence completed (done now, not done before)."""
    after = await repo.facts(conn, row=row)
    at = deps.now()
    for action in stage.actions:
        if gates.check(action, after)[0] and not gates.check(action, before)[0]:
            await deps.runtime.stage(
                conn,
                ACTION_COMPLETED,
                pipeline_events_pb2.ActionCompleted(
                    opportunity_id=str(row.id), stage=stage.key, action=action.key, evidence_kind=action.kind,
                    by=by, at=to_timestamp(at),
                ),
            )


def _text(name: str, value: str, *, required: bool) -> str:
    value = (value or "").strip()
    if required and not value:
        raise InvalidArgument([FieldViolation(name, "is required")])
    if len(value) > MAX_TEXT:
        raise InvalidArgument([FieldViolation(name, f"at most {MAX_TEXT} characters")])
    return value


async def record_contact(
    conn: AsyncConnection, deps: Deps, *, opportunity_id: uuid.UUID, channel: str, summary: str, principal: Principal
) -> Row:
    channel, summary = _text("channel", channel, required=True), _text("summary", summary, required=False)
    row, stage = await _open_stage(conn, opportunity_id=opportunity_id, principal=principal)
    before = await repo.facts(conn, row=row)
    by = access.actor(principal)
    added = await repo.add_evidence(
        conn,
        opportunity_id=row.id,
        values={"kind": "contact", "stage": row.stage, "channel": channel, "summary": summary, "by": by, "at": deps.now()},
    )
    await _announce_completions(conn, deps, row=row, stage=stage, before=before, by=by)
    return added


async def add_file(
    conn: AsyncConnection,
    deps: Deps,
    *,
    opportunity_id: uuid.UUID,
    action: str,
    content: bytes,
    principal: Principal,
    max_bytes: int = DEFAULT_MAX_FILE_BYTES,
) -> Row:
    if len(content) > max_bytes:
        raise TooLarge([FieldViolation("file", f"at most {max_bytes} bytes")])
    if not content:
        raise InvalidArgument([FieldViolation("file", "is empty")])
    row, stage = await _open_stage(conn, opportunity_id=opportunity_id, principal=principal)
    wanted = _action_of(stage, action, "file")
    found = sniff(content)
    if found.media_type not in wanted.media_types:
        raise InvalidArgument(
            [FieldViolation("file", f"is {found.media_type} by its content; {action} takes {', '.join(wanted.media_types)}")]
        )
    before = await repo.facts(conn, row=row)
    by = access.actor(principal)
    added = await repo.add_evidence(
        conn,
        opportunity_id=row.id,
        values={
            "kind": "file", "stage": row.stage, "action": action, "media_type": found.media_type,
            "sha256": found.sha256, "size": found.size, "content": content, "by": by, "at": deps.now(),
        },
    )
    await _announce_completions(conn, deps, row=row, stage=stage, before=before, by=by)
    return added


async def record_confirmation(
    conn: AsyncConnection,
    deps: Deps,
    *,
    opportunity_id: uuid.UUID,
    action: str,
    confirmed_by: str,
    note: str,
    principal: Principal,
) -> Row:
    confirmed_by, note = _text("confirmed_by", confirmed_by, required=True), _text("note", note, required=False)
    row, stage = await _open_stage(conn, opportunity_id=opportunity_id, principal=principal)
    _action_of(stage, action, "confirmation")
    before = await repo.facts(conn, row=row)
    by = access.actor(principal)
    added = await repo.add_evidence(
        conn,
        opportunity_id=row.id,
        values={
            "kind": "confirmation", "stage": row.stage, "action": action, "confirmed_by": confirmed_by,
            "summary": note, "by": by, "at": deps.now(),
        },
    )
    await _announce_completions(conn, deps, row=row, stage=stage, before=before, by=by)
    return added
