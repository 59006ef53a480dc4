"""Domain errors and their one mapping to gRPC status codes (with field violations for bad input)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

# A status travels in trailers (grpc-message percent-encoded, details base64-encoded), and a client refuses
# trailers over its metadata limit (8 KiB by default) with RESOURCE_EXHAUSTED, which hides the real error. These
# bounds keep every status we send well under that limit, however long the input it names.
MAX_MESSAGE_BYTES = 512
MAX_DETAILS_BYTES = 3072
MAX_FIELD_BYTES = 200
MAX_DESCRIPTION_BYTES = 300


@dataclass(frozen=True)
class FieldViolation:
    """One bad field and the rule it broke."""

    field: str
    description: str


class DomainError(Exception):
    """Base of the errors a handler raises on purpose; the interceptor maps them to a status."""

    code: grpc.StatusCode = grpc.StatusCode.UNKNOWN

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(DomainError):
    code = grpc.StatusCode.ALREADY_EXISTS


class PermissionDenied(DomainError):
    code = grpc.StatusCode.PERMISSION_DENIED


class FailedPrecondition(DomainError):
    code = grpc.StatusCode.FAILED_PRECONDITION


class Unavailable(DomainError):
    code = grpc.StatusCode.UNAVAILABLE


class InvalidArgument(DomainError):
    """Bad input: carries every violated field so callers can name them."""

    code = grpc.StatusCode.INVALID_ARGUMENT

    def __init__(self, violations: list[FieldViolation], message: str = "") -> None:
        self.violations = violations
        summary = "; ".join(f"{v.field}: {v.description}" for v in violations)
        super().__init__(message or f"invalid request: {summary}")


def clip(text: str, max_bytes: int) -> str:
    """The text cut to at most max_bytes of UTF-8 (on a character boundary), marked with … when cut."""
    encoded = text.encode("utf-8", "replace")
    if len(encoded) <= max_bytes:
        return text
    return encoded[: max_bytes - 3].decode("utf-8", "ignore") + "…"


def to_rpc_status(error: DomainError) -> status_pb2.Status:
    """The google.rpc.Status for a domain error (BadRequest details for invalid arguments), bounded in size."""
    message = error.message
    if isinstance(error, InvalidArgument):
        detail = error_details_pb2.BadRequest()
        for shown, v in enumerate(error.violations):
            detail.field_violations.add(
                field=clip(v.field, MAX_FIELD_BYTES), description=clip(v.description, MAX_DESCRIPTION_BYTES)
            )
            if detail.ByteSize() > MAX_DETAILS_BYTES:
                del detail.field_violations[-1]
                message = f"{len(error.violations) - shown} more violations not shown; {message}"
                break
        status = status_pb2.Status(code=error.code.value[0], message=clip(message, MAX_MESSAGE_BYTES))
        status.details.add().Pack(detail)
        return status
    return status_pb2.Status(code=error.code.value[0], message=clip(message, MAX_MESSAGE_BYTES))


NUL_DESCRIPTION = "must not contain NUL characters"


def nul_violations(message: Message, prefix: str = "") -> list[FieldViolation]:
    """Every string in a request (nested messages, lists and maps included) holding a NUL, which no table stores."""
    json_like = _JSON_TYPES.get(message.DESCRIPTOR.full_name)
    if json_like is not None:
        return json_like(message, prefix)
    out: list[FieldViolation] = []
    for descriptor, value in message.ListFields():
        name = f"{prefix}.{descriptor.name}" if prefix else descriptor.name
        if descriptor.type == FieldDescriptor.TYPE_STRING:
            values = enumerate(value) if descriptor.is_repeated else [(None, value)]
            out.extend(
                FieldViolation(name if i is None else f"{name}.{i}", NUL_DESCRIPTION) for i, v in values if "\x00" in v
            )
        elif descriptor.type == FieldDescriptor.TYPE_MESSAGE:
            if descriptor.message_type.GetOptions().map_entry:
                out.extend(_map_nul_violations(value, name))
            elif descriptor.is_repeated:
                for index, item in enumerate(value):
                    out.extend(nul_violations(item, f"{name}.{index}"))
            else:
                out.extend(nul_violations(value, name))
    return out


def _struct_nul_violations(struct: Message, prefix: str) -> list[FieldViolation]:
    """A google.protobuf.Struct named as the JSON it holds (`payload.contact.phone`, not `fields.contact...`)."""
    return _map_nul_violations(struct.fields, prefix)  # type: ignore[attr-defined]


def _value_nul_violations(value: Message, prefix: str) -> list[FieldViolation]:
    kind = value.WhichOneof("kind")
    if kind == "string_value" and "\x00" in value.string_value:  # type: ignore[attr-defined]
        return [FieldViolation(prefix, NUL_DESCRIPTION)]
    if kind == "struct_value":
        return _struct_nul_violations(value.struct_value, prefix)  # type: ignore[attr-defined]
    if kind == "list_value":
        return _list_nul_violations(value.list_value, prefix)  # type: ignore[attr-defined]
    return []


def _list_nul_violations(values: Message, prefix: str) -> list[FieldViolation]:
    out: list[FieldViolation] = []
    for index, item in enumerate(values.values):  # type: ignore[attr-defined]
        out.extend(_value_nul_violations(item, f"{prefix}.{index}"))
    return out


_JSON_TYPES = {
    "google.protobuf.Struct": _struct_nul_violations,
    "google.protobuf.Value": _value_nul_violations,
    "google.protobuf.ListValue": _list_nul_violations,
}


def _map_nul_violations(entries: object, name: str) -> list[FieldViolation]:
    out: list[FieldViolation] = []
    for key, item in entries.items():  # type: ignore[attr-defined]
        shown = str(key).replace("\x00", "?")
        if isinstance(key, str) and "\x00" in key:
            out.append(FieldViolation(f"{name}.{shown}", f"key {NUL_DESCRIPTION}"))
        if isinstance(item, str) and "\x00" in item:
            out.append(FieldViolation(f"{name}.{shown}", NUL_DESCRIPTION))
        elif isinstance(item, Message):
            out.extend(nul_violations(item, f"{name}.{shown}"))
    return out


def field_violations_of(error: grpc.aio.AioRpcError | grpc.RpcError) -> list[FieldViolation]:
    """The field violations a gRPC error carries in its status details (empty when none)."""
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    if status is None:
        return []
    out: list[FieldViolation] = []
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            out.extend(FieldViolation(v.field, v.description) for v in bad.field_violations)
    return out


INTERNAL_CODE = code_pb2.INTERNAL


# A JSON document behind a request (a webhook's payload) becomes a google.protobuf.Struct, where each level is
# three messages and protobuf stops at 100, then PostgreSQL jsonb, which holds no NUL and no NaN.
MAX_JSON_DEPTH = 32
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_UNSTORABLE_TEXT = re.compile("[\x00\ud800-\udfff]")


def text_problem(value: str) -> str | None:
    """Why a string cannot be stored (a NUL character, a lone surrogate), or None."""
    found = _UNSTORABLE_TEXT.search(value)
    if found is None:
        return None
    return NUL_DESCRIPTION if found.group() == "\x00" else "must be valid Unicode (lone surrogate)"


def json_violations(value: Any, field: str = "") -> list[FieldViolation]:
    """Every value of a JSON document (field: its name) no service could store or carry, by dotted path."""
    return _json_violations(value, field, field or "body", 0)


def _json_violations(value: Any, field: str, root: str, depth: int) -> list[FieldViolation]:
    name = field or root
    if depth > MAX_JSON_DEPTH:
        # Named as a whole: the document is what is too deep, not its innermost value.
        return [FieldViolation(root, f"nested more than {MAX_JSON_DEPTH} levels deep")]
    if isinstance(value, str):
        why = text_problem(value)
        return [FieldViolation(name, why)] if why else []
    if isinstance(value, bool) or value is None:
        return []
    if isinstance(value, int):
        return [] if INT64_MIN <= value <= INT64_MAX else [FieldViolation(name, "integer out of the 64-bit range")]
    if isinstance(value, float):
        return [] if math.isfinite(value) else [FieldViolation(name, "must be a finite number (not NaN or Infinity)")]
    out: list[FieldViolation] = []
    if isinstance(value, dict):
        for key, item in value.items():
            why = text_problem(key)
            path = f"{field}.{_UNSTORABLE_TEXT.sub('?', key)}" if field else _UNSTORABLE_TEXT.sub("?", key)
            if why:
                out.append(FieldViolation(path, f"key {why}"))
            out.extend(_json_violations(item, path, root, depth + 1))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            out.extend(_json_violations(item, f"{field}.{index}" if field else str(index), root, depth + 1))
    return out
