"""Idempotency keys belong to a caller and to one request body: whose key it is, and what it was sent with."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

import grpc
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message

from crm_common.errors import FieldViolation, InvalidArgument
from crm_common.identity import IDEMPOTENCY_SCOPE_METADATA_KEY as SCOPE_METADATA_KEY
from crm_common.identity import current_principal

MAX_SCOPE_LENGTH = 200
# Scopes the service uses for itself; every caller's scope starts with "user:", "service:" or "unverified".
RELEASE_SCOPE = "quarantine-release"
FIELD = "Idempotency-Key"


def named_scope(context: grpc.aio.ServicerContext | None) -> str:
    """The scope the calling hop names in the call's metadata ('' when none, or called without a call)."""
    metadata = context.invocation_metadata() if context is not None else None
    for key, value in metadata or ():
        if key == SCOPE_METADATA_KEY and isinstance(value, str):
            return value.strip()[:MAX_SCOPE_LENGTH]
    return ""


def caller_scope(named: str = "") -> str:
    """Where the caller's keys live: the verified user, the verified service (with the scope it names), or,
    before identities are verified, the scope the calling hop names."""
    principal = current_principal()
    if principal is None:
        return f"unverified:{named}" if named else "unverified"
    if principal.is_service and principal.on_behalf_of is None:
        service = f"service:{principal.service or principal.subject}"
        return f"{service}/{named}" if named else service
    user = principal.on_behalf_of or principal
    return f"user:{user.subject}"


def request_hash(body: Message | Any) -> str:
    """SHA-256 of the request's canonical JSON (sorted keys, no spaces): equal bodies, equal hashes."""
    if isinstance(body, Message):
        data: Any = MessageToDict(body, preserving_proto_field_name=True)
    elif dataclasses.is_dataclass(body) and not isinstance(body, type):
        data = dataclasses.asdict(body)
    else:
        data = body
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def refuse_other_body(stored_hash: str, sent_hash: str) -> None:
    """INVALID_ARGUMENT naming Idempotency-Key when a key comes back with another body ('' stored: unknown)."""
    if stored_hash and stored_hash != sent_hash:
        raise InvalidArgument(
            [FieldViolation(FIELD, "was already used with a different request body; send a new key for a new request")]
        )
